// Creating an event, and editing one: its details, its status moves, its tiers.
import { fill, h } from "../dom.js";
import { go } from "../router.js";
import { announce, busyAction, errorBox, loadOr, notice, spinner } from "../ui.js";
import { eventForm } from "./event-form.js";
import { statusBadges } from "./events.js";
import { admin, aget } from "./session.js";
import { tiersSection } from "./tiers.js";

/** The moves an operator can make from each status (the API refuses the rest with 409). */
const MOVES = {
  draft: [["scheduled", "Publish (scheduled)", "button"], ["canceled", "Cancel event", "button button-danger"]],
  scheduled: [["on_sale", "Open the sale now", "button button-ok"], ["canceled", "Cancel event", "button button-danger"]],
  on_sale: [["closed", "Close the sale", "button button-secondary"], ["canceled", "Cancel event", "button button-danger"]],
};

export function newEventView(root) {
  root.append(
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "New event"), h("p", { class: "muted" }, "It starts as a draft: add tiers, then publish it."))),
    h("div", { class: "card" }, eventForm(null, async (body) => {
      const { data } = await admin("/admin/events", { method: "POST", body: { ...body, status: "draft" } });
      announce(`Event ${data.name} created.`);
      go(`/events/${data.id}`);
    }, { submitLabel: "Create event" })));
}

export async function editEventView(root, ctx) {
  const [id] = ctx.params;
  root.append(spinner("Loading the event"));
  let event = await loadOr(() => aget(`/admin/events/${encodeURIComponent(id)}`, { signal: ctx.signal }),
    (err) => fill(root, h("h1", {}, "Event"), errorBox(err, { title: "We could not load this event" })));
  if (event === undefined) return;
  const badges = h("span", { id: "event-status" }, statusBadges(event));
  const moves = h("div", { class: "row", id: "status-moves" });
  const moveErrors = h("div");
  const saved = h("div", { "aria-live": "polite" });
  const title = h("h1", {}, event.name);

  function renderMoves() {
    fill(badges, statusBadges(event));
    fill(moves, (MOVES[event.status] || []).map(([status, label, cls]) => {
      const b = h("button", { class: `${cls} button-small`, type: "button", "data-status": status }, label);
      b.addEventListener("click", busyAction(b, async () => {
        if (status === "canceled" && !window.confirm(`Cancel ${event.name}? Fans can no longer buy tickets.`)) return;
        event = (await admin(`/admin/events/${encodeURIComponent(id)}`, { method: "PATCH", body: { status } })).data;
        renderMoves();
        announce(`Status is now ${event.status.replace("_", " ")}.`);
        moves.querySelector("button")?.focus();
      }, { errorSlot: moveErrors }));
      return b;
    }));
    if (!moves.firstChild) moves.append(h("span", { class: "muted" }, "No further status moves."));
  }
  renderMoves();

  fill(root,
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Events"), " / ", event.name),
    h("div", { class: "page-head" },
      h("div", {}, title, h("p", {}, badges)),
      h("div", { class: "row" },
        h("a", { class: "button", href: `#/events/${id}/dashboard` }, "Live dashboard"),
        h("a", { class: "button button-secondary", href: `/#/events/${id}`, target: "_blank", rel: "noopener" }, "Fan page"))),
    h("section", { class: "card", "aria-labelledby": "moves-h" }, h("h2", { id: "moves-h" }, "Status"), moves, moveErrors),
    h("section", { class: "card", "aria-labelledby": "details-h" },
      h("h2", { id: "details-h" }, "Details"),
      eventForm(event, async (changes) => {
        if (!Object.keys(changes).length) {
          fill(saved, notice("info", "Nothing to save", h("p", {}, "No field changed.")));
          return;
        }
        event = (await admin(`/admin/events/${encodeURIComponent(id)}`, { method: "PATCH", body: changes })).data;
        title.textContent = event.name;
        renderMoves();
        fill(saved, notice("ok", "Saved", h("p", {}, `Updated: ${Object.keys(changes).join(", ").replaceAll("_", " ")}.`)));
      }),
      saved),
    tiersSection(id, event.tiers || [], ctx));
}
