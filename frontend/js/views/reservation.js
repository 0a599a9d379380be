// A reservation: pending while the workers decide it, then the hold with its live countdown,
// and the way to checkout. The Idempotency-Key of the checkout attempt is kept (localStorage)
// until the attempt ends, so a retry after a timeout or a reload cannot open a second session.
import { del, get, request } from "../api.js";
import { fill, h } from "../dom.js";
import { formatMoney, plural, secondsUntil } from "../format.js";
import { idempotencyKey } from "../identity.js";
import { icon } from "../icons.js";
import { everySecond, poll } from "../poll.js";
import { go } from "../router.js";
import { announce, busyAction, countdownClock, showError, spinner, spokenDuration } from "../ui.js";
import { cachedEvent, crumbs, reasonWords } from "./common.js";

const FINAL = new Set(["rejected", "expired", "released", "converted"]);

export async function reservationView(root, ctx) {
  const [id] = ctx.params;
  const panel = h("section", { class: "room", id: "reservation", "aria-labelledby": "res-h" }, spinner("Loading your reservation"));
  const errors = h("div");
  const crumbSlot = h("div");
  root.append(crumbSlot, h("h1", {}, "Your reservation"), errors, panel);

  let reservation = null;
  let shown = null;
  let tick = () => {};
  const refresh = () => poller.now();
  const poller = poll(async () => {
    reservation = await get(`/reservations/${encodeURIComponent(id)}`, { signal: ctx.signal });
    errors.replaceChildren();
    if (reservation.status !== shown) {
      const first = shown === null;
      shown = reservation.status;
      const event = await cachedEvent(reservation.event_id, { signal: ctx.signal }).catch(() => null);
      fill(crumbSlot, crumbs(["Events", "#/"], [event?.name || "Event", `#/events/${reservation.event_id}`], ["Reservation"]));
      const tier = event?.tiers?.find((t) => t.id === reservation.tier_id);
      const view = render(reservation, event, tier, ctx, refresh);
      panel.className = `room phase-${view.phase}`;
      panel.dataset.status = reservation.status;
      panel.replaceChildren(...view.nodes);
      tick = view.tick || (() => {});
      // A change under the fan moves focus to the heading that names it: then only the rest is said.
      if (!first) {
        panel.querySelector("h2")?.focus();
        announce(view.detail);
      } else {
        announce(view.announcement);
      }
    }
    tick(reservation);
    if (FINAL.has(reservation.status)) return false;
    return reservation.status === "pending" ? 1000 : 5000;
  }, { interval: 1000, onError: (err) => showError(errors, err, { title: "We could not load your reservation", focus: false }) });
  ctx.onLeave(poller.stop);
  ctx.onLeave(everySecond(() => reservation && tick(reservation)));
}

const head = (iconName, title) => [h("div", { class: "phase-icon" }, icon(iconName, 26)), h("h2", { id: "res-h", tabindex: -1 }, title)];

function summary(r, event, tier) {
  return h("dl", { class: "stats" },
    h("div", { class: "stat" }, h("dt", { class: "label" }, "Event"), h("dd", { class: "value small" }, event?.name || "–")),
    h("div", { class: "stat" }, h("dt", { class: "label" }, "Tickets"), h("dd", { class: "value small" }, `${plural(r.quantity, "ticket")} · ${tier?.name || "tier"}`)),
    tier ? h("div", { class: "stat" }, h("dt", { class: "label" }, "Total"), h("dd", { class: "value small" }, formatMoney(tier.price_cents * r.quantity))) : null);
}

function render(r, event, tier, ctx, refresh) {
  const back = h("a", { href: `#/events/${r.event_id}/room` }, "Back to the waiting room");
  switch (r.status) {
    case "pending":
      return { phase: "queued", announcement: "Your request is being decided.",
        nodes: [...head("hourglass", "Confirming your tickets…"), h("p", {}, spinner(), " Requests are decided in the order they arrive. This usually takes a second."), summary(r, event, tier)] };
    case "held":
      return held(r, event, tier, ctx, refresh);
    case "converted":
      return { phase: "admitted", announcement: "Paid. Your tickets are ready.", detail: null,
        nodes: [...head("ticket", "Paid – your tickets are ready"), summary(r, event, tier), h("a", { class: "button", href: "#/tickets" }, "See my tickets")] };
    case "rejected":
      return { phase: "expired", announcement: `Your request was declined. ${reasonWords(r.reason)}`, detail: reasonWords(r.reason),
        nodes: [...head("cross", "We could not hold those tickets"), h("p", {}, reasonWords(r.reason)), h("p", {}, back)] };
    case "expired":
      return { phase: "expired", announcement: "Your hold expired. The tickets went back on sale.", detail: "The tickets went back on sale.",
        nodes: [...head("hourglass", "Your hold expired"), h("p", {}, "The tickets were not paid for in time and went back on sale."), h("p", {}, back)] };
    default:
      return { phase: "expired", announcement: "You released these tickets.", detail: "They are back on sale for other fans.",
        nodes: [...head("cross", "Tickets released"), h("p", {}, "You let these tickets go; they are back on sale for other fans."), h("p", {}, back)] };
  }
}

function held(r, event, tier, ctx, refresh) {
  const left = h("span", { class: "big-clock", id: "hold-left", role: "timer", "aria-label": "Time left to pay" }, "--:--");
  const errors = h("div");
  const pay = h("button", { class: "button", type: "button", id: "checkout" }, "Continue to payment");
  const release = h("button", { class: "button button-secondary", type: "button", id: "release" }, "Release tickets");
  pay.addEventListener("click", busyAction(pay, async () => {
    const res = await request("/checkout/sessions", {
      method: "POST", body: { reservation_id: r.id }, headers: { "Idempotency-Key": idempotencyKey(`checkout.${r.id}`) }, signal: ctx.signal,
    });
    go(`/checkout/${res.data.id}`);
  }, { errorSlot: errors, busyLabel: "Opening checkout…" }));
  release.addEventListener("click", busyAction(release, async () => {
    await del(`/reservations/${encodeURIComponent(r.id)}`, { signal: ctx.signal });
    refresh();
  }, { errorSlot: errors }));
  const showLeft = countdownClock(left, (t) => `${spokenDuration(t)} left to pay for your tickets.`);
  const limit = `You have ${spokenDuration(secondsUntil(r.expires_at) ?? 0)} to pay.`;
  return {
    phase: "admitted",
    announcement: `Your tickets are held. ${limit}`,
    detail: limit,
    nodes: [...head("check", "Your tickets are held"),
      h("p", {}, "Pay before the timer runs out, or the tickets go back on sale."),
      left, summary(r, event, tier), errors,
      h("div", { class: "row" }, pay, release)],
    tick: (res) => showLeft(res.expires_at),
  };
}
