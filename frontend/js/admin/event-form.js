// The event form, for creating and for editing. Times are typed in the operator's local time
// and sent as ISO 8601 with a zone, as the API asks.
import { h } from "../dom.js";
import { busyAction, field } from "../ui.js";

const pad = (n) => String(n).padStart(2, "0");

/** ISO timestamp -> value of an <input type="datetime-local"> in local time. */
export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** datetime-local value (local time) -> ISO 8601 UTC. */
export const fromLocalInput = (value) => (value ? new Date(value).toISOString() : null);

/**
 * A form for `event` (null = new). onSubmit(body) gets only the fields that changed (all of
 * them for a new event) and may throw; the error is shown under the form.
 */
export function eventForm(event, onSubmit, { submitLabel = "Save event" } = {}) {
  const soon = new Date(Date.now() + 10 * 60_000);
  const later = new Date(Date.now() + 30 * 86_400_000);
  later.setHours(20, 0, 0, 0);
  const input = (name, attrs) => h("input", { name, id: `ev-${name}`, ...attrs });
  const controls = {
    name: input("name", { required: true, maxlength: 200, value: event?.name || "" }),
    venue: input("venue", { required: true, maxlength: 200, value: event?.venue || "" }),
    description: h("textarea", { name: "description", id: "ev-description", rows: 3 }, event?.description || ""),
    starts_at: input("starts_at", { type: "datetime-local", step: 1, required: true, value: toLocalInput(event?.starts_at || later.toISOString()) }),
    on_sale_at: input("on_sale_at", { type: "datetime-local", step: 1, required: true, value: toLocalInput(event?.on_sale_at || soon.toISOString()) }),
    wave_size: input("wave_size", { type: "number", min: 1, step: 1, inputmode: "numeric", value: event?.wave_size ?? "" }),
    wave_interval_s: input("wave_interval_s", { type: "number", min: 0.1, step: 0.1, inputmode: "decimal", value: event?.wave_interval_s ?? "" }),
  };
  const errors = h("div");
  const submit = h("button", { class: "button", type: "submit" }, submitLabel);
  const form = h("form", { class: "event-form", novalidate: true },
    h("div", { class: "form-grid" },
      field("Name", controls.name),
      field("Venue", controls.venue),
      h("div", { class: "wide" }, field("Description", controls.description)),
      field("Doors / start (your local time)", controls.starts_at),
      field("Sale opens (your local time)", controls.on_sale_at, "Fans who join before this are drawn in a random order."),
      field("Wave size", controls.wave_size, "Fans let in per wave. Empty = the server default."),
      field("Seconds between waves", controls.wave_interval_s, "Empty = the server default.")),
    errors,
    h("div", { class: "row" }, submit));

  function values() {
    const v = {
      name: controls.name.value.trim(),
      venue: controls.venue.value.trim(),
      description: controls.description.value,
      starts_at: fromLocalInput(controls.starts_at.value),
      on_sale_at: fromLocalInput(controls.on_sale_at.value),
    };
    if (controls.wave_size.value !== "") v.wave_size = Number(controls.wave_size.value);
    if (controls.wave_interval_s.value !== "") v.wave_interval_s = Number(controls.wave_interval_s.value);
    return v;
  }

  form.addEventListener("submit", busyAction(submit, async () => {
    const body = values();
    if (!body.name || !body.venue) throw new Error("Name and venue are required.");
    if (!body.starts_at || !body.on_sale_at) throw new Error("Both dates are required.");
    const changed = event
      ? Object.fromEntries(Object.entries(body).filter(([k, val]) => !same(event[k], val)))
      : body;
    await onSubmit(changed);
  }, { errorSlot: errors, busyLabel: "Saving…" }));
  return form;
}

function same(before, after) {
  if (typeof after === "string" && /T.*Z$/.test(after) && before) return Date.parse(before) === Date.parse(after);
  return (before ?? "") === (after ?? "");
}
