// My tickets: every ticket of this fan, printable.
import { get } from "../api.js";
import { fill, h } from "../dom.js";
import { formatDate, formatMoney, plural } from "../format.js";
import { errorBox, loadOr, spinner } from "../ui.js";
import { ticketCard } from "./ticket.js";

export async function ticketsView(root, ctx) {
  const list = h("div", { class: "tickets", id: "tickets", "aria-busy": "true" }, spinner("Loading your tickets"));
  const printButton = h("button", { class: "button button-secondary no-print", type: "button", onclick: () => window.print() }, "Print tickets");
  const count = h("p", { class: "muted" }, "Show the QR code at the door, on your phone or printed.");
  root.append(h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "My tickets"), count), printButton), list);
  const tickets = await loadOr(() => get("/me/tickets", { signal: ctx.signal }),
    (err) => fill(list, errorBox(err, { title: "We could not load your tickets" })));
  list.removeAttribute("aria-busy");
  if (tickets === undefined) return;
  printButton.hidden = !tickets.length;
  if (!tickets.length) {
    fill(list, h("div", { class: "empty card" }, h("p", {}, "You have no tickets yet."), h("a", { class: "button", href: "#/" }, "Browse events")));
    return;
  }
  count.textContent = `${plural(tickets.length, "ticket")}. Show the QR code at the door, on your phone or printed.`;
  fill(list, tickets.map((t) => ticketCard(t, ctx)));
  refundedOrders(root, ctx);
}

/** Orders canceled with a refund: what was refunded and when (their tickets show as void). */
async function refundedOrders(root, ctx) {
  let orders;
  try {
    orders = (await get("/me/orders", { signal: ctx.signal })).filter((o) => o.status === "refunded");
  } catch {
    return; // the tickets are shown; the refund list is extra
  }
  if (!orders.length) return;
  root.append(h("section", { class: "card no-print", "aria-labelledby": "refunds-h" },
    h("h2", { id: "refunds-h" }, "Refunded orders"),
    h("ul", { id: "refunds" }, orders.map((o) => h("li", { "data-order": o.id },
      `${plural(o.quantity, "ticket")} · ${o.tier.name} · ${o.event.name}: refunded ${formatMoney(o.refund_cents)} on `,
      h("time", { datetime: o.refunded_at }, formatDate(o.refunded_at, o.event.timezone)))))));
}
