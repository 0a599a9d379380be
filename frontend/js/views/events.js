// The events page: one card per public event with its sale badge. The list refreshes every
// 15 s; cards are updated in place (keyed by event id), so a keyboard user's focus stays on the
// card they were on.
import { get } from "../api.js";
import { fill, h } from "../dom.js";
import { formatDate, formatPriceRange } from "../format.js";
import { everySecond, poll } from "../poll.js";
import { keepingFocus, showError, spinner } from "../ui.js";
import { eventArt, saleBadge } from "./common.js";

export function eventsView(root, ctx) {
  const list = h("div", { class: "grid", id: "event-list", "aria-busy": "true" }, spinner("Loading events"));
  const errors = h("div");
  root.append(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Upcoming drops"), h("p", { class: "muted" }, "Pick an event, join its waiting room, and we will hold your place in line."))),
    errors,
    list,
  );

  const cards = new Map();
  let last = null;
  const poller = poll(async () => {
    const events = await get("/events", { signal: ctx.signal });
    errors.replaceChildren();
    const json = JSON.stringify(events);
    if (json !== last) keepingFocus(list, () => render(list, cards, events));
    last = json;
    list.removeAttribute("aria-busy");
  }, { interval: 15000, onError: (err) => showErrorQuietly(errors, err) });
  ctx.onLeave(poller.stop);
  ctx.onLeave(everySecond(() => cards.forEach((card) => card.tick())));
}

function showErrorQuietly(slot, err) {
  // Keep focus where it is on background refreshes; only the first failure takes focus.
  if (!slot.firstChild) showError(slot, err, { title: "Could not load the events", focus: false });
}

function render(list, cards, events) {
  if (!events.length) {
    cards.clear();
    fill(list, h("p", { class: "empty" }, "No events on sale yet. Check back soon."));
    return;
  }
  const seen = new Set(events.map((e) => e.id));
  for (const [id, card] of cards) {
    if (!seen.has(id)) {
      card.node.remove();
      cards.delete(id);
    }
  }
  list.querySelector(":scope > .empty")?.remove();
  list.querySelector(":scope > .spinner")?.remove();
  events.forEach((event, i) => {
    let card = cards.get(event.id);
    if (!card) {
      card = eventCard(event);
      cards.set(event.id, card);
    } else {
      card.update(event);
    }
    // Move a card only when the order changed (moving the focused card would blur it).
    if (list.children[i] !== card.node) list.insertBefore(card.node, list.children[i] || null);
  });
}

function eventCard(event) {
  const link = h("a", { href: `#/events/${event.id}`, "data-focus-key": `event-${event.id}` });
  const venue = h("p", { class: "meta" });
  const when = h("time", {});
  const price = h("span", { class: "price" });
  const badgeSlot = h("span", {});
  const node = h("article", { class: "card event-card", "aria-labelledby": `ev-${event.id}` },
    eventArt(event.id),
    h("div", { class: "body" },
      h("h2", { id: `ev-${event.id}` }, link),
      venue,
      h("p", { class: "meta" }, when),
      h("div", { class: "foot" }, price, badgeSlot)));
  let current = event;
  const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
  const card = {
    node,
    update(next) {
      current = next;
      setText(link, next.name);
      setText(venue, next.venue);
      when.setAttribute("datetime", next.starts_at);
      setText(when, formatDate(next.starts_at, next.timezone));
      setText(price, formatPriceRange(next.price_min_cents, next.price_max_cents));
      card.tick();
    },
    tick() {
      const badge = saleBadge(current);
      if (badgeSlot.firstChild?.textContent !== badge.textContent || badgeSlot.firstChild?.className !== badge.className) fill(badgeSlot, badge);
    },
  };
  card.update(event);
  return card;
}
