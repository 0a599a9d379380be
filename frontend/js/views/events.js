// The events page: one card per public event with its sale badge.
import { get } from "../api.js";
import { fill, h } from "../dom.js";
import { formatDate, formatPriceRange } from "../format.js";
import { everySecond, poll } from "../poll.js";
import { showError, spinner } from "../ui.js";
import { hueClass, initials, saleBadge } from "./common.js";

export function eventsView(root, ctx) {
  const list = h("div", { class: "grid", id: "event-list", "aria-busy": "true" }, spinner("Loading events"));
  const errors = h("div");
  root.append(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Upcoming drops"), h("p", { class: "muted" }, "Pick an event, join its waiting room, and we will hold your place in line."))),
    errors,
    list,
  );

  let badges = [];
  let last = null;
  const poller = poll(async () => {
    const events = await get("/events", { signal: ctx.signal });
    errors.replaceChildren();
    const json = JSON.stringify(events);
    // Re-render only on change, so a keyboard user's focus is not yanked every refresh.
    if (json !== last) badges = render(list, events);
    last = json;
    list.removeAttribute("aria-busy");
  }, { interval: 15000, onError: (err) => showErrorQuietly(errors, err) });
  ctx.onLeave(poller.stop);
  ctx.onLeave(everySecond(() => badges.forEach(([slot, event]) => fill(slot, saleBadge(event)))));
}

function showErrorQuietly(slot, err) {
  // Keep focus where it is on background refreshes; only the first failure takes focus.
  if (!slot.firstChild) showError(slot, err, { title: "Could not load the events", focus: false });
}

function render(list, events) {
  if (!events.length) {
    fill(list, h("p", { class: "empty" }, "No events on sale yet. Check back soon."));
    return [];
  }
  const badges = [];
  fill(list, events.map((event) => {
    const slot = h("span", {}, saleBadge(event));
    badges.push([slot, event]);
    return h("article", { class: "card event-card", "aria-labelledby": `ev-${event.id}` },
      h("div", { class: ["art", hueClass(event.id)], "aria-hidden": "true" }, initials(event.name)),
      h("div", { class: "body" },
        h("h2", { id: `ev-${event.id}` }, h("a", { href: `#/events/${event.id}` }, event.name)),
        h("p", { class: "meta" }, event.venue),
        h("p", { class: "meta" }, h("time", { datetime: event.starts_at }, formatDate(event.starts_at))),
        h("div", { class: "foot" }, h("span", { class: "price" }, formatPriceRange(event.price_min_cents, event.price_max_cents)), slot)));
  }));
  return badges;
}
