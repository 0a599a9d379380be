// Checkout: the session's amount and expiry, the payment simulator, the result, the tickets.
import { get, request } from "../api.js";
import { h } from "../dom.js";
import { formatMoney, secondsUntil } from "../format.js";
import { dropIdempotencyKey, idempotencyKey } from "../identity.js";
import { icon } from "../icons.js";
import { everySecond, poll } from "../poll.js";
import { announce, busyAction, countdownClock, notice, showError, spinner, spokenDuration } from "../ui.js";
import { cachedEvent } from "./common.js";
import { ticketCard } from "./ticket.js";

const FINAL = new Set(["paid", "failed", "expired"]);

export async function checkoutView(root, ctx) {
  const [id] = ctx.params;
  const panel = h("section", { class: "room", id: "checkout", "aria-labelledby": "co-h" }, spinner("Loading checkout"));
  const errors = h("div");
  root.append(h("h1", {}, "Checkout"), errors, panel);

  let session = null;
  let event = null;
  let shown = null;
  let view = null;
  const poller = poll(async () => {
    // While the payment or the tickets are settling the server holds the answer until they change.
    const settling = session && (session.status === "processing" || session.status === "paid");
    session = await get(`/checkout/sessions/${encodeURIComponent(id)}`, { signal: ctx.signal, wait: settling ? 5 : undefined });
    errors.replaceChildren();
    // Paid sessions wait for their tickets (issued by a worker right after payment): the paid
    // view fills them in place when they come, so the fan hears "ready" once, not the payment twice.
    const issued = (session.tickets?.length ?? 0) >= (session.quantity ?? 1);
    if (session.status !== shown) {
      const first = shown === null;
      shown = session.status;
      event = event || await cachedEvent(session.event_id, { signal: ctx.signal }).catch(() => null);
      view = render(session, ctx, () => poller.now());
      view.nodes.splice(3, 0, what(session, event));
      panel.className = `room phase-${view.phase}`;
      panel.dataset.status = session.status;
      panel.replaceChildren(...view.nodes);
      if (!first) {
        panel.querySelector("h2")?.focus();
        announce(view.detail);
      } else {
        announce(view.announcement);
      }
      if (FINAL.has(session.status)) {
        dropIdempotencyKey(`checkout.${session.reservation_id}`);
        ["success", "fail"].forEach((sim) => dropIdempotencyKey(`confirm.${session.id}.${sim}`));
      }
    } else {
      view.update?.(session);
    }
    view.tick?.(session);
    if ((session.status === "paid" && issued) || session.status === "failed" || session.status === "expired") return false;
    return session.status === "open" ? 5000 : 500;
  }, { interval: 1000, onError: (err) => showError(errors, err, { title: "We could not load your checkout", focus: false }) });
  ctx.onLeave(poller.stop);
  ctx.onLeave(everySecond(() => session && view?.tick?.(session)));
}

/** "2 × VIP · Aurora Lights Live" */
function what(s, event) {
  const tier = event?.tiers?.find((t) => t.id === s.tier_id);
  return h("p", { class: "muted" }, `${s.quantity} × ${tier?.name || "ticket"}`, event ? ` · ${event.name}` : "");
}

const head = (iconName, title) => [h("div", { class: "phase-icon" }, icon(iconName, 26)), h("h2", { id: "co-h", tabindex: -1 }, title)];

function render(s, ctx, refresh) {
  const amount = h("p", { class: "big-clock" }, formatMoney(s.amount_cents));
  switch (s.status) {
    case "open":
      return payForm(s, ctx, refresh, amount);
    case "processing":
      return { phase: "queued", announcement: "Processing your payment.", detail: null,
        nodes: [...head("hourglass", "Processing your payment…"), amount, h("p", {}, spinner(), " This takes a moment. Please do not close the page.")] };
    case "paid":
      return paid(s, ctx, amount);
    case "failed":
      return { phase: "expired", announcement: "The payment failed. Your tickets went back on sale.", detail: "Nothing was charged. Your tickets went back on sale.",
        nodes: [...head("cross", "Payment failed"),
          h("p", {}, "The payment did not go through and nothing was charged. The tickets you held went back on sale."),
          s.failure_reason ? h("p", { class: "muted" }, `Reason: ${s.failure_reason.replaceAll("_", " ")}`) : null,
          h("div", { class: "row" },
            h("a", { class: "button", href: `#/events/${s.event_id}/room` }, "Try again from the waiting room"),
            h("a", { class: "button button-secondary", href: "#/" }, "Back to events"))] };
    default:
      return { phase: "expired", announcement: "This checkout expired. The tickets went back on sale.", detail: "The tickets went back on sale.",
        nodes: [...head("hourglass", "This checkout expired"), h("p", {}, "The hold ran out before payment, and the tickets went back on sale."), h("p", {}, h("a", { href: "#/" }, "Back to events"))] };
  }
}

/** Paid: the tickets appear in place when the worker has issued them (said once). */
function paid(s, ctx, amount) {
  const slot = h("div", {});
  let filled = false;
  const fillTickets = (sess) => {
    const tickets = sess.tickets || [];
    if (filled || tickets.length < (sess.quantity ?? 1)) return false;
    filled = true;
    slot.replaceChildren(h("div", { class: "tickets", id: "new-tickets" }, tickets.map((t) => ticketCard(t, ctx))));
    return true;
  };
  if (!fillTickets(s)) slot.replaceChildren(h("p", {}, spinner(), " Issuing your tickets…"));
  const ready = filled ? " Your tickets are ready." : " Issuing your tickets.";
  return {
    phase: "admitted",
    announcement: `Payment confirmed.${ready}`,
    detail: ready.trim(),
    nodes: [...head("check", "Payment confirmed"), amount, slot,
      h("p", {}, h("a", { class: "button", href: "#/tickets" }, "See all my tickets"))],
    update: (sess) => { if (fillTickets(sess)) announce("Your tickets are ready."); },
  };
}

function payForm(s, ctx, refresh, amount) {
  const left = h("strong", { id: "checkout-left", class: "mono" }, "--:--");
  const errors = h("div");
  const success = h("button", { class: "button button-ok", type: "button", id: "pay-success" }, "Simulate successful payment");
  const failure = h("button", { class: "button button-danger", type: "button", id: "pay-fail" }, "Simulate failed payment");
  const confirm = (simulate, button) => busyAction(button, async () => {
    success.disabled = failure.disabled = true;
    try {
      // One key per payment attempt: a retry after a timeout is the same attempt, not a second payment.
      const headers = { "Idempotency-Key": idempotencyKey(`confirm.${s.id}.${simulate}`) };
      await request("/checkout/confirm", { method: "POST", body: { checkoutId: s.checkoutId, simulate }, headers, wait: 5, signal: ctx.signal });
      refresh();
    } catch (err) {
      // A decided failure or expiry carries the session: the page shows it as the outcome.
      if (!err.problem?.checkout) throw err;
      refresh();
    } finally {
      success.disabled = failure.disabled = false;
    }
  }, { errorSlot: errors, busyLabel: "Paying…", errorTitle: "The payment could not be sent" });
  success.addEventListener("click", confirm("success", success));
  failure.addEventListener("click", confirm("fail", failure));
  const showLeft = countdownClock(left, (t) => `${spokenDuration(t)} left to pay for your tickets.`);
  const limit = `Your tickets stay held for ${spokenDuration(secondsUntil(s.expires_at) ?? 0)} while you pay.`;
  return {
    phase: "queued",
    announcement: limit,
    detail: limit,
    nodes: [...head("ticket", "Pay for your tickets"), amount,
      h("p", {}, "Your tickets stay held for ", left, ". "),
      notice("info", "This is a payment simulator", h("p", {}, "No card is needed. Choose how the payment should end.")),
      errors,
      h("div", { class: "row" }, success, failure)],
    tick: (sess) => showLeft(sess.expires_at),
  };
}
