// Every event, drafts included, with its status and the ways to edit and watch it.
import { fill, h } from "../dom.js";
import { formatDate } from "../format.js";
import { poll } from "../poll.js";
import { badge, keepingFocus, scrollBox, showError, spinner } from "../ui.js";
import { aget } from "./session.js";

export const STATUS_BADGE = {
  draft: ["Draft", "neutral"],
  scheduled: ["Scheduled", "info"],
  on_sale: ["On sale", "ok"],
  closed: ["Closed", "neutral"],
  canceled: ["Canceled", "bad"],
};

export function statusBadges(event) {
  const [text, kind] = STATUS_BADGE[event.status] || [event.status, "neutral"];
  return [badge(text, kind), event.paused ? [" ", badge("Paused", "warn")] : null];
}

export function eventsListView(root, ctx) {
  const body = h("div", { class: "card", "aria-busy": "true" }, spinner("Loading events"));
  const errors = h("div");
  root.append(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Events"), h("p", { class: "muted" }, "Every event, drafts included.")),
      h("a", { class: "button", href: "#/new" }, "New event")),
    errors, body);
  let last = null;
  const poller = poll(async () => {
    const events = await aget("/admin/events", { signal: ctx.signal });
    errors.replaceChildren();
    body.removeAttribute("aria-busy");
    const json = JSON.stringify(events);
    // Focus stays on the same link when a refresh rebuilds the table.
    if (json !== last) keepingFocus(body, () => fill(body, table(events)));
    last = json;
  }, { interval: 10000, onError: (err) => showError(errors, err, { focus: false }) });
  ctx.onLeave(poller.stop);
}

function table(events) {
  if (!events.length) return h("p", { class: "empty" }, "No events yet. ", h("a", { href: "#/new" }, "Create the first one"), ".");
  const sorted = [...events].sort((a, b) => String(a.on_sale_at).localeCompare(String(b.on_sale_at)));
  return scrollBox("All events", h("table", { id: "admin-events" },
    h("caption", { class: "sr-only" }, "All events"),
    h("thead", {}, h("tr", {}, ["Event", "Status", "On sale", "Starts", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, sorted.map((e) => h("tr", { "data-event": e.id },
      h("th", { scope: "row" }, h("a", { href: `#/events/${e.id}`, "data-focus-key": `edit-${e.id}` }, e.name), h("div", { class: "small muted" }, e.venue)),
      h("td", {}, statusBadges(e)),
      h("td", {}, formatDate(e.on_sale_at, e.timezone)),
      h("td", {}, formatDate(e.starts_at, e.timezone)),
      h("td", { class: "num" }, h("a", { class: "button button-secondary button-small", href: `#/events/${e.id}/dashboard`, "aria-label": `Dashboard of ${e.name}`, "data-focus-key": `dash-${e.id}` }, "Dashboard")))))));
}
