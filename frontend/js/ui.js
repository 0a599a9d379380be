// Small pieces every page uses: the screen-reader announcer, error boxes, busy buttons,
// badges and the connection indicator.
import { onConnection } from "./api.js";
import { h } from "./dom.js";

/** Say something to screen-reader users (polite unless urgent). */
export function announce(text, { urgent = false } = {}) {
  const region = document.getElementById(urgent ? "announce-urgent" : "announce");
  if (!region) return;
  // Clearing first makes the same message heard again when it repeats.
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

/** An alert box for an error (ApiError or any Error), with the field messages listed. */
export function errorBox(err, { title = "Something went wrong" } = {}) {
  const lines = err?.extraLines || [];
  return h("div", { class: "notice notice-error", role: "alert" },
    h("strong", {}, title),
    h("p", {}, err?.message || String(err)),
    lines.length ? h("ul", {}, lines.map((l) => h("li", {}, l))) : null,
    err?.retryAfter ? h("p", { class: "muted" }, `You can try again in ${err.retryAfter} s.`) : null);
}

/**
 * Show an error in a slot (a container kept for errors). Focus moves there after an action
 * the reader took; background refreshes pass {focus: false} (role=alert still announces it).
 */
export function showError(slot, err, { focus = true, ...opts } = {}) {
  const box = errorBox(err, opts);
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

export const spinner = (label = "Loading") => h("span", { class: "spinner", role: "status" }, h("span", { class: "sr-only" }, label));

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

/** The header's connection pill; announces when the connection drops or comes back. */
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

/** A labelled form field: field("Name", input, "help text"). */
export function field(label, control, help) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const helpEl = help ? h("small", { id: `${id}-help`, class: "help" }, help) : null;
  if (helpEl) control.setAttribute("aria-describedby", helpEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, helpEl);
}
