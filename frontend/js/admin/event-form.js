// The event form, for creating and for editing. Times are typed on the venue's clock (its IANA
// time zone, a field of the event) and sent as ISO 8601 UTC, as the API asks: "doors at 19:30"
// means 19:30 where the show is, whatever zone the operator's laptop is in.
import { h, newId } from "../dom.js";
import { deviceTimeZone, fromZonedInput, toZonedInput } from "../format.js";
import { busyAction, field } from "../ui.js";

/** Every zone this browser knows, for the time-zone field's suggestions. */
function zoneList() {
  const id = newId("zones");
  const names = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return h("datalist", { id }, ["UTC", ...names.filter((z) => z !== "UTC")].map((z) => h("option", { value: z })));
}

/**
 * A form for `event` (null = new). onSubmit(body) gets only the fields that changed (all of
 * them for a new event) and may throw; the error is shown under the form.
 */
export function eventForm(event, onSubmit, { submitLabel = "Save event" } = {}) {
  const soon = new Date(Date.now() + 10 * 60_000);
  const input = (name, attrs) => h("input", { name, id: `ev-${name}`, ...attrs });
  const zone = event?.timezone || deviceTimeZone();
  const zones = zoneList();
  // A new event starts 30 days from now at 20:00 on the venue's clock.
  const later = `${toZonedInput(new Date(Date.now() + 30 * 86_400_000).toISOString(), zone).slice(0, 10)}T20:00:00`;
  const controls = {
    name: input("name", { required: true, maxlength: 200, value: event?.name || "" }),
    venue: input("venue", { required: true, maxlength: 200, value: event?.venue || "" }),
    description: h("textarea", { name: "description", id: "ev-description", rows: 3 }, event?.description || ""),
    timezone: input("timezone", { required: true, maxlength: 64, list: zones.id, autocomplete: "off", spellcheck: "false", value: zone }),
    starts_at: input("starts_at", { type: "datetime-local", step: 1, required: true, value: event ? toZonedInput(event.starts_at, zone) : later }),
    on_sale_at: input("on_sale_at", { type: "datetime-local", step: 1, required: true, value: toZonedInput(event?.on_sale_at || soon.toISOString(), zone) }),
    wave_size: input("wave_size", { type: "number", min: 1, step: 1, inputmode: "numeric", value: event?.wave_size ?? "" }),
    wave_interval_s: input("wave_interval_s", { type: "number", min: 0.1, step: 0.1, inputmode: "decimal", value: event?.wave_interval_s ?? "" }),
    ticket_mode: h("select", { name: "ticket_mode", id: "ev-ticket_mode" },
      [["both", "Live code or printed ticket"], ["rotating", "Live code only (screenshots stop working)"], ["static", "Printed ticket only"]]
        .map(([value, label]) => h("option", { value, selected: (event?.ticket_mode || "both") === value }, label))),
  };
  const errors = h("div");
  const submit = h("button", { class: "button", type: "submit" }, submitLabel);
  const form = h("form", { class: "event-form", novalidate: true },
    h("div", { class: "form-grid" },
      field("Name", controls.name),
      field("Venue", controls.venue),
      h("div", { class: "wide" }, field("Description", controls.description)),
      h("div", { class: "wide" }, field("Venue time zone", controls.timezone, "An IANA name such as America/Los_Angeles. The two times below are on this clock, and fans see them in it."), zones),
      field("Doors / start (venue time)", controls.starts_at),
      field("Sale opens (venue time)", controls.on_sale_at, "Fans who join before this are drawn in a random order."),
      field("Wave size", controls.wave_size, "Fans let in per wave. Empty = the server default."),
      field("Seconds between waves", controls.wave_interval_s, "Empty = the server default."),
      field("Codes taken at the door", controls.ticket_mode, "The live code changes on the fan's phone every few seconds, so a resold screenshot does not scan.")),
    errors,
    h("div", { class: "row" }, submit));

  function values() {
    const v = {
      name: controls.name.value.trim(),
      venue: controls.venue.value.trim(),
      description: controls.description.value,
      timezone: controls.timezone.value.trim(),
      starts_at: fromZonedInput(controls.starts_at.value, controls.timezone.value.trim()),
      on_sale_at: fromZonedInput(controls.on_sale_at.value, controls.timezone.value.trim()),
      ticket_mode: controls.ticket_mode.value,
    };
    if (controls.wave_size.value !== "") v.wave_size = Number(controls.wave_size.value);
    if (controls.wave_interval_s.value !== "") v.wave_interval_s = Number(controls.wave_interval_s.value);
    return v;
  }

  form.addEventListener("submit", busyAction(submit, async () => {
    const body = values();
    if (!body.name || !body.venue) throw new Error("Name and venue are required.");
    if (!body.timezone) throw new Error("The venue time zone is required, e.g. America/Los_Angeles.");
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
