// My tickets: every ticket of this fan, printable.
import { get } from "../api.js";
import { fill, h } from "../dom.js";
import { plural } from "../format.js";
import { errorBox, spinner } from "../ui.js";
import { ticketCard } from "./ticket.js";

export async function ticketsView(root, ctx) {
  const list = h("div", { class: "tickets", id: "tickets", "aria-busy": "true" }, spinner("Loading your tickets"));
  const printButton = h("button", { class: "button button-secondary no-print", type: "button", onclick: () => window.print() }, "Print tickets");
  const count = h("p", { class: "muted" }, "Show the QR code at the door, on your phone or printed.");
  root.append(h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "My tickets"), count), printButton), list);
  let tickets;
  try {
    tickets = await get("/me/tickets", { signal: ctx.signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    fill(list, errorBox(err, { title: "We could not load your tickets" }));
    list.removeAttribute("aria-busy");
    return;
  }
  list.removeAttribute("aria-busy");
  printButton.hidden = !tickets.length;
  if (!tickets.length) {
    fill(list, h("div", { class: "empty card" }, h("p", {}, "You have no tickets yet."), h("a", { class: "button", href: "#/" }, "Browse events")));
    return;
  }
  count.textContent = `${plural(tickets.length, "ticket")}. Show the QR code at the door, on your phone or printed.`;
  fill(list, tickets.map((t) => ticketCard(t, ctx)));
}
