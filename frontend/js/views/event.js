// One event: its tiers with live availability, and the way into the waiting room.
import { get, post } from "../api.js";
import { fill, h } from "../dom.js";
import { formatDate, formatMoney, plural } from "../format.js";
import { roomToken, setRoomToken } from "../identity.js";
import { everySecond, poll } from "../poll.js";
import { go } from "../router.js";
import { busyAction, errorBox, loadOr, progressBar, scrollBox, showError, spinner } from "../ui.js";
import { canJoin, crumbs, saleBadge, salePhase, saleWords } from "./common.js";
import { waitlistJoin } from "./waitlist.js";

/** Join the event's waiting room (the same fan joining again gets the same token back). */
export async function joinRoom(eventId, signal) {
  const { data } = await post(`/events/${encodeURIComponent(eventId)}/waiting-room/join`, undefined, { signal });
  setRoomToken(eventId, data.token);
  return data;
}

export async function eventView(root, ctx) {
  const [eventId] = ctx.params;
  root.append(spinner("Loading the event"));
  const event = await loadOr(() => get(`/events/${encodeURIComponent(eventId)}`, { signal: ctx.signal }),
    (err) => fill(root, crumbs(["Events", "#/"], ["Event"]), h("h1", {}, "Event not available"), errorBox(err, { title: "We could not load this event" })));
  if (event === undefined) return;

  const badgeSlot = h("span", {}, saleBadge(event));
  const saleText = h("span", {}, saleWords(event));
  let shownPhase = salePhase(event);
  const errors = h("div");
  const action = h("div", { class: "row" });
  const rows = new Map();
  fill(root,
    crumbs(["Events", "#/"], [event.name]),
    h("div", { class: "card event-hero" },
      h("div", { class: "row" }, badgeSlot),
      h("h1", {}, event.name),
      h("p", { class: "muted" }, event.venue, " · ", h("time", { datetime: event.starts_at }, formatDate(event.starts_at, event.timezone))),
      event.description ? h("p", {}, event.description) : null,
      h("p", { class: "small muted", id: "sale-words" }, saleText, h("a", { href: `#/events/${event.id}/fairness` }, "How the draw is fair")),
      errors,
      action),
    h("section", { class: "card", "aria-labelledby": "tiers-h" },
      h("h2", { id: "tiers-h" }, "Tickets"),
      tierTable(event, rows, errors)));

  function renderAction() {
    const token = roomToken(event.id);
    if (!canJoin(event)) {
      fill(action, h("p", { class: "muted" }, "The waiting room is closed for this event."));
      return;
    }
    const button = h("button", { class: "button", type: "button", id: "join" }, token ? "Return to the waiting room" : "Join the waiting room");
    button.addEventListener("click", busyAction(button, async () => {
      await joinRoom(event.id, ctx.signal);
      // The waiting room says where the fan stands when it opens: one announcement, not two.
      go(`/events/${event.id}/room`);
    }, { errorSlot: errors, busyLabel: "Joining…" }));
    fill(action, button, h("span", { class: "small muted" }, "Keep the waiting room open; it updates by itself."));
  }
  renderAction();
  ctx.onLeave(everySecond(() => {
    fill(badgeSlot, saleBadge(event));
    // The words change with the phase (not every second: the text would be re-read).
    if (salePhase(event) !== shownPhase) {
      shownPhase = salePhase(event);
      fill(saleText, saleWords(event));
    }
  }));

  const poller = poll(async () => {
    const availability = await get(`/events/${encodeURIComponent(event.id)}/availability`, { signal: ctx.signal });
    errors.replaceChildren();
    for (const tier of availability.tiers || []) rows.get(tier.tier_id)?.update(tier);
    const soldOut = (availability.tiers || []).length > 0 && availability.tiers.every((t) => t.remaining <= 0);
    if (soldOut !== !!event.sold_out) {
      event.sold_out = soldOut;
      renderAction();
    }
  }, { interval: 3000, onError: (err) => { if (!errors.firstChild) showError(errors, err, { title: "Live availability is unavailable", focus: false }); } });
  ctx.onLeave(poller.stop);
}

function tierTable(event, rows, errors) {
  const tiers = event.tiers || [];
  if (!tiers.length) return h("p", { class: "muted" }, "No tickets have been announced yet.");
  return scrollBox("Ticket tiers", h("table", {},
    h("caption", { class: "sr-only" }, "Ticket tiers, prices and how many are left"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Tier"), h("th", { scope: "col", class: "num" }, "Price"), h("th", { scope: "col" }, "Availability"))),
    h("tbody", {}, tiers.map((tier) => {
      const text = h("span", {}, "…");
      const bar = progressBar(`${tier.name} tickets left`);
      const join = h("div");
      const row = h("tr", { "data-tier": tier.id },
        h("th", { scope: "row" }, tier.name, h("div", { class: "small muted" }, `Up to ${tier.per_user_limit} per order`)),
        h("td", { class: "num" }, formatMoney(tier.price_cents)),
        h("td", { class: "avail" }, text, bar, join));
      row.update = ({ remaining, capacity }) => {
        text.textContent = remaining <= 0 ? "Sold out" : `${plural(remaining, "ticket")} left`;
        text.className = remaining <= 0 ? "badge badge-bad" : "";
        bar.set(capacity ? (remaining / capacity) * 100 : 0);
        // Sold out while on sale: tickets that come back are offered to the waitlist in order.
        const joinable = remaining <= 0 && ["on_sale", "scheduled"].includes(event.status);
        if (joinable && !join.firstChild) join.append(waitlistJoin(event, tier, errors));
        if (!joinable) join.replaceChildren();
      };
      rows.set(tier.id, row);
      return row;
    }))));
}
