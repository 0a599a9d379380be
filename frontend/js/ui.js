// Small pieces every page uses: the screen-reader announcer, error boxes, busy buttons,
// badges and the connection indicator.
import { onConnection } from "./api.js";
import { h } from "./dom.js";
import { formatClock, secondsUntil } from "./format.js";

/** How long an announcement stays in its live region, in ms (long enough to be read, then tidied away). */
const ANNOUNCEMENT_KEPT_MS = 20_000;

/**
 * Say something to screen-reader users (polite unless urgent). Each message is added to the
 * region as its own line (the regions announce additions only), so a second message queues
 * behind the first instead of cutting it off, and nothing is cleared and rewritten. Callers say
 * each state change once: when focus moves to a heading that already names the change, they
 * announce only what the heading does not say.
 */
export function announce(text, { urgent = false } = {}) {
  const region = document.getElementById(urgent ? "announce-urgent" : "announce");
  if (!region || !text) return;
  const line = h("p", {}, text);
  region.append(line);
  setTimeout(() => line.remove(), ANNOUNCEMENT_KEPT_MS);
}

/**
 * Announce the warnings a countdown crosses, each once: warnings(60, 30)(secondsLeft, words)
 * says words(60) when 60 s or less are left, then words(30). The last one is urgent. The first
 * call is when the page said how long is left ("You have 50 seconds to pay."), so the warnings
 * that time already reaches are not said on top of it, with a rounder, wrong number.
 */
export function countdownWarnings(...thresholds) {
  let said = null;
  return (secs, words) => {
    if (secs === null || secs === undefined) return;
    if (said === null) {
      said = new Set(thresholds.filter((t) => secs <= t));
      return;
    }
    if (secs <= 0) return;
    const due = thresholds.filter((t) => secs <= t && !said.has(t));
    if (!due.length) return;
    due.forEach((t) => said.add(t));
    const t = Math.min(...due); // after a pause in ticking (a sleeping tab) only the nearest
    announce(words(t), { urgent: t === Math.min(...thresholds) });
  };
}

/**
 * A countdown shown in `clock` (mm:ss, marked low under a minute) and spoken once at 60 and at
 * 30 seconds left with `words(t)`: call the returned function every second with the deadline.
 * Each warning once, not every second: a ticking number would drown the screen reader.
 */
export function countdownClock(clock, words) {
  const warn = countdownWarnings(60, 30);
  return (deadline) => {
    const secs = secondsUntil(deadline);
    if (secs === null) return;
    clock.textContent = formatClock(secs);
    clock.classList.toggle("timer-low", secs < 60);
    warn(secs, words);
  };
}

/**
 * What `load()` resolves to, or undefined once `failed(err)` has shown why it could not be loaded
 * (a page's first read). Leaving the page (an AbortError) is not a failure: it propagates.
 */
export async function loadOr(load, failed) {
  try {
    return await load();
  } catch (err) {
    if (err.name === "AbortError") throw err;
    failed(err);
    return undefined;
  }
}

/** "3 minutes", "90 seconds", "2 hours", "3 days": how long something lasts, for reading aloud. */
export function spokenDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const unit = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (s >= 2 * 86400) return unit(Math.round(s / 86400), "day");
  if (s >= 2 * 3600) return unit(Math.round(s / 3600), "hour");
  if (s >= 120 || (s >= 60 && s % 60 === 0)) return unit(Math.round(s / 60), "minute");
  return unit(s, "second");
}

/**
 * Keep keyboard focus in place across a re-render: `update()` may replace nodes; if focus was
 * inside `container`, it goes back to the element matching the same `data-focus-key` (or id).
 */
export function keepingFocus(container, update) {
  const active = document.activeElement;
  const inside = active && active !== document.body && container.contains(active);
  const key = inside ? active.closest("[data-focus-key]")?.dataset.focusKey : null;
  const id = inside ? active.id : null;
  const result = update();
  if (inside && !active.isConnected) {
    const again = (key && container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)) || (id && document.getElementById(id));
    again?.focus({ preventScroll: true });
  } else if (inside && document.activeElement !== active) {
    active.focus({ preventScroll: true });
  }
  return result;
}

/** A failure the header's connection indicator has already said aloud: no connection, or the server busy. */
const saidByConnection = (err) => err?.status === 0 || err?.status === 503;

/**
 * An alert box for an error (ApiError or any Error), with the field messages listed. `quiet`
 * boxes are not alerts: what they say has been announced already.
 */
export function errorBox(err, { title = "Something went wrong", quiet = false } = {}) {
  const lines = err?.extraLines || [];
  return h("div", { class: "notice notice-error", role: quiet ? null : "alert" },
    h("strong", {}, title),
    h("p", {}, err?.message || String(err)),
    lines.length ? h("ul", {}, lines.map((l) => h("li", {}, l))) : null,
    err?.retryAfter ? h("p", { class: "muted" }, `You can try again in ${err.retryAfter} s.`) : null);
}

/**
 * Show an error in a slot (a container kept for errors). Focus moves there after an action
 * the reader took; background refreshes pass {focus: false} (role=alert still announces it,
 * unless the connection indicator has just said the same: "Connection problem: Offline").
 */
export function showError(slot, err, { focus = true, ...opts } = {}) {
  const box = errorBox(err, { ...opts, quiet: !focus && saidByConnection(err) });
  box.tabIndex = -1;
  slot.replaceChildren(box);
  if (focus) box.focus();
  return box;
}

export function notice(kind, title, ...body) {
  return h("div", { class: `notice notice-${kind}` }, title ? h("strong", {}, title) : null, ...body);
}

/** Run an async action with the button disabled and marked busy; errors go to `errorSlot`. */
export function busyAction(button, action, { errorSlot, busyLabel, errorTitle } = {}) {
  return async (event) => {
    event?.preventDefault?.();
    if (button.disabled) return;
    const label = button.textContent;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    if (busyLabel) button.textContent = busyLabel;
    errorSlot?.replaceChildren();
    try {
      await action();
    } catch (err) {
      if (err?.name === "AbortError") return;
      if (errorSlot) showError(errorSlot, err, errorTitle ? { title: errorTitle } : {});
      else throw err;
    } finally {
      if (button.isConnected) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
        if (busyLabel) button.textContent = label;
      }
    }
  };
}

/**
 * A spinner. With a label it stands alone and says it (role=status); without one it sits next to
 * words that say what is happening, so it is hidden from screen readers (no "Loading Asking...").
 */
export const spinner = (label) => (label
  ? h("span", { class: "spinner", role: "status" }, h("span", { class: "sr-only" }, label))
  : h("span", { class: "spinner", "aria-hidden": "true" }));

export const badge = (text, kind = "neutral") => h("span", { class: `badge badge-${kind}` }, text);

/** A progress bar readable by screen readers. */
export function progressBar(label) {
  const fillEl = h("div", { class: "progress-fill" });
  const bar = h("div", { class: "progress", role: "progressbar", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0 }, fillEl);
  bar.set = (percent) => {
    const p = Math.max(0, Math.min(100, Math.round(percent)));
    fillEl.style.width = `${p}%`;
    bar.setAttribute("aria-valuenow", p);
    bar.setAttribute("aria-valuetext", `${p}%`);
  };
  return bar;
}

const CONNECTION_TEXT = { online: "Online", degraded: "Server busy", offline: "Offline – retrying", unknown: "Connecting…" };

/**
 * The header's connection pill. It is not a live region itself: the announcer says a drop or a
 * recovery once, and the start-up "Connecting… / Online" is not worth interrupting anyone for.
 */
export function mountConnectionIndicator(el) {
  let previous = null;
  onConnection((state) => {
    el.className = `connection connection-${state}`;
    el.replaceChildren(h("span", { class: "dot", "aria-hidden": "true" }), CONNECTION_TEXT[state]);
    el.title = `Connection: ${CONNECTION_TEXT[state]}`;
    if (previous && previous !== "unknown" && state !== previous) {
      announce(state === "online" ? "Connection restored." : `Connection problem: ${CONNECTION_TEXT[state]}.`, { urgent: state === "offline" });
    }
    previous = state;
  });
}

/**
 * A wide table in a box that scrolls sideways on narrow screens. While it overflows, the box is
 * a labelled region in the tab order, so keyboard users can scroll it too (WCAG 2.1.1).
 */
export function scrollBox(label, table) {
  const box = h("div", { class: "table-wrap" }, table);
  const check = () => {
    const overflows = box.scrollWidth > box.clientWidth + 1;
    if (overflows === box.hasAttribute("tabindex")) return;
    if (overflows) {
      Object.entries({ tabindex: "0", role: "region", "aria-label": label }).forEach(([k, v]) => box.setAttribute(k, v));
    } else {
      ["tabindex", "role", "aria-label"].forEach((k) => box.removeAttribute(k));
    }
  };
  const watch = new ResizeObserver(check);
  watch.observe(box);
  watch.observe(table);
  return box;
}

/** Make the skip link move focus to the main content without touching the hash route. */
export function mountSkipLink(link, target) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    target.focus();
    target.scrollIntoView?.({ block: "start" });
  });
}

/** A labelled form field: field("Name", input, "help text"). */
export function field(label, control, help) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const helpEl = help ? h("small", { id: `${id}-help`, class: "help" }, help) : null;
  if (helpEl) control.setAttribute("aria-describedby", helpEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, helpEl);
}
