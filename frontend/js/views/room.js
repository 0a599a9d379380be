// The waiting room: countdown to on-sale, place in line, then the turn to reserve.
// Polls every 2 s (backing off on errors and in hidden tabs): the room's shared progress
// document, and the fan's own status only when that may have changed (room-progress.js; after
// the draw a pre-queue fan computes its place from the revealed salt instead of asking). The
// token lives in localStorage, so a reload or a second tab resumes the same place.
import { ApiError, get } from "../api.js";
import { h } from "../dom.js";
import { learnServerTime } from "../format.js";
import { roomToken, setRoomToken } from "../identity.js";
import { everySecond, poll } from "../poll.js";
import { announce, errorBox, loadOr, showError, spinner } from "../ui.js";
import { cachedEvent, crumbs } from "./common.js";
import { joinRoom } from "./event.js";
import { PHASES, phaseOf } from "./room-phases.js";
import { movedOn, needsOwnStatus, wantsPlaceEstimate, withPlaceEstimate } from "./room-progress.js";

export async function roomView(root, ctx) {
  const [eventId] = ctx.params;
  root.append(spinner("Loading the waiting room"));
  const event = await loadOr(() => cachedEvent(eventId, { signal: ctx.signal }),
    (err) => root.replaceChildren(h("h1", {}, "Waiting room unavailable"), errorBox(err)));
  if (event === undefined) return;

  const panel = h("section", { class: "room", "aria-labelledby": "phase-h", id: "room" }, spinner("Checking your place"));
  const errors = h("div");
  root.replaceChildren(
    crumbs(["Events", "#/"], [event.name, `#/events/${event.id}`], ["Waiting room"]),
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Waiting room"), h("p", { class: "muted" }, event.name, " · ", event.venue))),
    errors,
    panel,
    h("p", { class: "small muted" },
      "Your place is kept if you reload or open this page in another tab. ",
      h("a", { href: `#/events/${event.id}/fairness`, id: "fairness-link" }, "Check that your place in line is fair"), "."));

  let token = roomToken(eventId);
  let status = null;
  let phase = null;
  let view = null;
  let rejoined = false;

  async function ensureToken() {
    if (!token) token = (await joinRoom(eventId, ctx.signal)).token;
  }

  const room = `/events/${encodeURIComponent(eventId)}/waiting-room`;

  /** The room's progress, or null when it says this fan must read their own status. */
  async function progressed() {
    if (!status || status.admission !== "queued") return null;
    // The same document for every fan: no identity headers, so any cache in between may share
    // it; the browser revalidates its own copy every time (ETag -> 304), so a page without an
    // edge in front sees a pause or a resume at the next poll, not a wave interval later.
    const progress = await get(`${room}/progress`, { signal: ctx.signal, user: false, cache: "no-cache" });
    if (wantsPlaceEstimate(status, progress)) {
      // The draw is revealed: compute this fan's place from it rather than asking (the same
      // document for everyone, cached for an hour; without it the fan reads its status).
      const fairness = await get(`${room}/fairness`, { signal: ctx.signal, user: false, cache: "default" }).catch((err) => {
        if (err.name === "AbortError") throw err;
        return null;
      });
      status = await withPlaceEstimate(status, token, fairness);
    }
    return needsOwnStatus(status, progress) ? null : movedOn(status, progress);
  }

  const poller = poll(async () => {
    await ensureToken();
    const moved = await progressed();
    if (moved) {
      status = moved;
    } else {
      try {
        status = await get(`${room}/status?token=${encodeURIComponent(token)}`, { signal: ctx.signal });
      } catch (err) {
        // A token the server no longer knows (expired, or data reset): join again, once.
        if (err instanceof ApiError && err.status === 404 && !rejoined) {
          rejoined = true;
          setRoomToken(eventId, null);
          token = null;
          status = null;
          return 0;
        }
        throw err;
      }
      if (status.secondsUntilOnSale > 0) learnServerTime(status.onSaleAt, status.secondsUntilOnSale);
    }
    errors.replaceChildren();
    const next = phaseOf(status);
    if (next !== phase) {
      const first = phase === null;
      phase = next;
      view?.destroy?.();
      view = PHASES[phase]({ event, token, ctx, status });
      panel.className = `room phase-${phase}`;
      panel.dataset.phase = phase;
      panel.replaceChildren(...view.nodes);
      // Move focus to a screen's new state only when it changes under the fan, not on arrival;
      // the focused heading names the change, so only what it does not say is announced.
      if (!first && view.focus) {
        panel.querySelector("h2")?.focus();
        announce(view.detail, { urgent: phase === "admitted" });
      } else {
        announce(view.announcement, { urgent: phase === "admitted" });
      }
    }
    view.update(status);
    view.tick?.(status);
    return view.interval ?? 2000;
  }, {
    interval: 2000,
    onError: (err, failures) => {
      if (failures === 1 || !errors.firstChild) showError(errors, err, { title: "We could not refresh your place", focus: false });
    },
  });
  ctx.onLeave(poller.stop);
  ctx.onLeave(everySecond(() => status && view?.tick?.(status)));
  ctx.onLeave(() => view?.destroy?.());
}
