// An event's tiers: edit each in place, add new ones. Prices are typed in dollars and sent in
// cents; a capacity below sold + held is refused by the API (409) and shown as it says.
import { fill, h } from "../dom.js";
import { formatMoney } from "../format.js";
import { announce, busyAction, field, notice, scrollBox } from "../ui.js";
import { admin } from "./session.js";

const toCents = (text) => Math.round(Number(String(text).replace(",", ".")) * 100);
const dollars = (cents) => (cents / 100).toFixed(2);

export function tiersSection(eventId, tiers, ctx) {
  const body = h("tbody");
  const table = scrollBox("Tiers of this event", h("table", { id: "tiers" },
    h("caption", { class: "sr-only" }, "Tiers of this event"),
    h("thead", {}, h("tr", {}, ["Tier", "Price ($)", "Capacity", "Per order", "Sold", "Held", ""].map((t) => h("th", { scope: "col" }, t)))),
    body));
  const empty = h("p", { class: "muted" }, "No tiers yet: add at least one before publishing.");
  const status = h("div", { "aria-live": "polite" });

  function add(tier) {
    body.append(tierRow(tier, status));
    empty.hidden = true;
  }
  [...tiers].sort((a, b) => a.price_cents - b.price_cents).forEach(add);
  empty.hidden = tiers.length > 0;

  return h("section", { class: "card", "aria-labelledby": "tiers-h" },
    h("h2", { id: "tiers-h" }, "Tiers"),
    empty, table, status,
    h("h3", {}, "Add a tier"),
    newTierForm(eventId, (tier) => {
      add(tier);
      announce(`Tier ${tier.name} added.`);
    }));
}

function tierRow(tier, status) {
  const label = (what) => `${what} of ${tier.name}`;
  const name = h("input", { value: tier.name, "aria-label": label("Name"), maxlength: 100, name: "name" });
  const price = h("input", { value: dollars(tier.price_cents), "aria-label": label("Price in dollars"), inputmode: "decimal", name: "price" });
  const capacity = h("input", { type: "number", min: 1, value: tier.capacity, "aria-label": label("Capacity"), name: "capacity" });
  const limit = h("input", { type: "number", min: 1, value: tier.per_user_limit, "aria-label": label("Tickets per order"), name: "per_user_limit" });
  const save = h("button", { class: "button button-secondary button-small", type: "button" }, "Save");
  const row = h("tr", { "data-tier": tier.id },
    h("td", {}, name), h("td", {}, price), h("td", {}, capacity), h("td", {}, limit),
    h("td", { class: "num" }, String(tier.sold ?? 0)), h("td", { class: "num" }, String(tier.held ?? 0)),
    h("td", {}, save));
  save.addEventListener("click", busyAction(save, async () => {
    const changes = {};
    if (name.value.trim() !== tier.name) changes.name = name.value.trim();
    if (toCents(price.value) !== tier.price_cents) changes.price_cents = toCents(price.value);
    if (Number(capacity.value) !== tier.capacity) changes.capacity = Number(capacity.value);
    if (Number(limit.value) !== tier.per_user_limit) changes.per_user_limit = Number(limit.value);
    if (!Object.keys(changes).length) return fill(status, notice("info", null, `${tier.name}: nothing changed.`));
    Object.assign(tier, (await admin(`/admin/tiers/${encodeURIComponent(tier.id)}`, { method: "PATCH", body: changes })).data);
    fill(status, notice("ok", null, `${tier.name} saved.`));
  }, { errorSlot: status }));
  return row;
}

function newTierForm(eventId, onCreated) {
  const name = h("input", { name: "tier_name", id: "tier-name", required: true, maxlength: 100 });
  const price = h("input", { name: "tier_price", id: "tier-price", required: true, inputmode: "decimal", placeholder: "49.00" });
  const capacity = h("input", { name: "tier_capacity", id: "tier-capacity", type: "number", min: 1, required: true, value: 100 });
  const limit = h("input", { name: "tier_limit", id: "tier-limit", type: "number", min: 1, value: 4 });
  const errors = h("div");
  const submit = h("button", { class: "button", type: "submit" }, "Add tier");
  const form = h("form", { class: "tier-form", novalidate: true },
    h("div", { class: "form-grid" },
      field("Tier name", name), field("Price ($)", price), field("Capacity", capacity), field("Tickets per order", limit, "At most this many in one reservation.")),
    errors, h("div", { class: "row" }, submit));
  form.addEventListener("submit", busyAction(submit, async () => {
    if (!name.value.trim()) throw new Error("Give the tier a name.");
    const cents = toCents(price.value);
    if (!Number.isFinite(cents)) throw new Error("The price must be a number, e.g. 49.00.");
    const { data } = await admin("/admin/tiers", {
      method: "POST",
      body: { event_id: eventId, name: name.value.trim(), price_cents: cents, capacity: Number(capacity.value), per_user_limit: Number(limit.value) || 4 },
    });
    onCreated(data);
    form.reset();
    fill(errors, notice("ok", null, `Added ${data.name} at ${formatMoney(data.price_cents)}.`));
    name.focus();
  }, { errorSlot: errors, busyLabel: "Adding…" }));
  return form;
}
