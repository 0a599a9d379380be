// The waitlist: join a sold-out tier (from the event page), and "My waitlist": each entry with
// its place, and an offer (a hold for you) with a countdown and "Buy now" into checkout.
import { del, get, post, request } from "../api.js";
import { fill, h } from "../dom.js";
import { formatClock, formatMoney, plural, secondsUntil } from "../format.js";
import { idempotencyKey } from "../identity.js";
import { everySecond, poll } from "../poll.js";
import { go } from "../router.js";
import { announce, badge, busyAction, countdownWarnings, keepingFocus, showError, spinner, spokenDuration } from "../ui.js";

/** A small form under a sold-out tier: how many tickets, then join its waitlist. */
export function waitlistJoin(event, tier, errors) {
  const id = `wl-q-${tier.id}`;
  const select = h("select", { id }, Array.from({ length: tier.per_user_limit || 1 }, (_, i) => h("option", { value: i + 1 }, String(i + 1))));
  const button = h("button", { class: "button button-secondary", type: "button", "data-waitlist": tier.id }, "Join the waitlist");
  const result = h("p", { class: "small", role: "status" });
  button.addEventListener("click", busyAction(button, async () => {
    const { data } = await post(`/events/${encodeURIComponent(event.id)}/waitlist`, { tier_id: tier.id, quantity: Number(select.value) });
    fill(result, "You are on the waitlist", data.ahead ? ` (${plural(data.ahead, "fan")} ahead of you)` : "", ". ",
      h("a", { href: "#/waitlist" }, "See your waitlist"));
  }, { errorSlot: errors, busyLabel: "Joining…" }));
  return h("div", { class: "waitlist-join" }, h("label", { for: id, class: "small" }, "Tickets "), select, " ", button, result);
}

const STATUS = {
  waiting: ["Waiting", "neutral"], offered: ["Offer for you", "ok"], purchased: ["Bought", "ok"],
  lapsed: ["Offer lapsed", "bad"], left: ["Left", "neutral"], canceled: ["Event canceled", "bad"],
};

export async function waitlistView(root, ctx) {
  const list = h("div", { id: "waitlist", "aria-busy": "true" }, spinner("Loading your waitlist"));
  root.append(h("h1", {}, "My waitlist"),
    h("p", { class: "muted" }, "When tickets of a sold-out tier come back, they are offered to the waitlist in waiting-room order. An offer is held for you for a few minutes."),
    list);
  // Each offer's clock, and its warnings at 60 s and 30 s (said once each, as on the hold page).
  const clocks = new Map();
  const warnings = new Map();
  let announced = new Set();
  let last = null;
  const poller = poll(async () => {
    let data;
    try {
      data = await get("/me/waitlist", { signal: ctx.signal });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      last = null;
      // Once per outage, not a new alert at every retry.
      if (!list.querySelector(".notice-error")) showError(list, err, { title: "We could not load your waitlist", focus: false });
      throw err;
    }
    list.removeAttribute("aria-busy");
    // Rebuilt only when something changed, and then focus goes back to the same button: a
    // keyboard user on "Buy now" is not dropped to <body> every 3 s.
    const json = JSON.stringify(data);
    if (json === last) return;
    last = json;
    clocks.clear();
    const entries = data.entries || [];
    if (!entries.length) {
      fill(list, h("div", { class: "empty card" }, h("p", {}, "You are not on any waitlist."), h("a", { class: "button", href: "#/" }, "Browse events")));
      return;
    }
    const offers = entries.filter((e) => e.offer);
    for (const e of offers) {
      if (announced.has(e.id)) continue;
      const left = spokenDuration(secondsUntil(e.offer.expires_at) ?? 0);
      announce(`Tickets are offered to you for ${e.event.name}. You have ${left} to buy them.`, { urgent: true });
      warnings.set(e.id, countdownWarnings(60, 30));
    }
    announced = new Set(offers.map((e) => e.id));
    keepingFocus(list, () => fill(list, entries.map((e) => entryCard(e, ctx, clocks, () => poller.now?.()))));
  }, { interval: 3000 });
  ctx.onLeave(poller.stop);
  ctx.onLeave(everySecond(() => {
    for (const [el, { id, iso }] of clocks) {
      const secs = secondsUntil(iso);
      el.textContent = secs === null ? "--:--" : formatClock(Math.max(0, secs));
      warnings.get(id)?.(secs, (t) => `${spokenDuration(t)} left to buy the offered tickets.`);
    }
  }));
}

function entryCard(e, ctx, clocks, refresh) {
  const [label, kind] = STATUS[e.status] || [e.status, "neutral"];
  const errors = h("div");
  const body = [h("h2", {}, e.event.name), h("p", { class: "muted small" }, `${plural(e.quantity, "ticket")} · ${e.tier.name} · ${formatMoney(e.tier.price_cents)} each`),
    h("p", {}, badge(label, kind), e.status === "waiting" && e.ahead !== null ? ` ${plural(e.ahead, "fan")} ahead of you` : "")];
  const actions = h("div", { class: "row" });
  if (e.offer) {
    const clock = h("span", { class: "big-clock", role: "timer", "aria-label": "Time left to buy the offered tickets" }, "--:--");
    clocks.set(clock, { id: e.id, iso: e.offer.expires_at });
    const buy = h("button", { class: "button", type: "button", "data-buy": e.offer.reservation_id, "data-focus-key": `buy-${e.id}` }, "Buy now");
    buy.addEventListener("click", busyAction(buy, async () => {
      const rid = e.offer.reservation_id;
      const res = await request("/checkout/sessions", {
        method: "POST", body: { reservation_id: rid }, headers: { "Idempotency-Key": idempotencyKey(`checkout.${rid}`) }, signal: ctx.signal,
      });
      go(`/checkout/${res.data.id}`);
    }, { errorSlot: errors, busyLabel: "Opening checkout…" }));
    body.push(h("p", {}, `${plural(e.offer.quantity, "ticket")} held for you. Time left: `, clock));
    actions.append(buy);
  }
  if (e.status === "waiting" || e.status === "offered") {
    const leave = h("button", { class: "button button-secondary", type: "button", "data-focus-key": `leave-${e.id}` }, "Leave the waitlist");
    leave.addEventListener("click", busyAction(leave, async () => {
      await del(`/waitlist/${encodeURIComponent(e.id)}`, { signal: ctx.signal });
      refresh();
    }, { errorSlot: errors }));
    actions.append(leave);
  }
  return h("article", { class: "card", "data-entry": e.id }, ...body, errors, actions);
}
