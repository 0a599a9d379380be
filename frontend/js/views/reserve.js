// Picking a tier and a quantity once admitted. The request is decided by the workers in
// arrival order; we ask the server to wait up to 5 s for the decision (Prefer: wait=5) and
// otherwise follow the reservation on its own page while it is pending.
import { get, request } from "../api.js";
import { fill, h, newId } from "../dom.js";
import { formatMoney, plural } from "../format.js";
import { lastReservation, setLastReservation } from "../identity.js";
import { poll } from "../poll.js";
import { go } from "../router.js";
import { notice, showError, spinner } from "../ui.js";
import { reasonWords } from "./common.js";

export function reserveForm({ event, token, ctx }) {
  const tiers = [...(event.tiers || [])].sort((a, b) => a.price_cents - b.price_cents);
  const remaining = new Map(tiers.map((t) => [t.id, t.capacity]));
  const name = newId("tier");
  const options = h("div", { class: "tier-options" });
  const quantity = h("select", { id: newId("qty"), name: "quantity" });
  const errors = h("div");
  const pending = h("div", { "aria-live": "polite" });
  // An <output> is a polite live region: the total is said when the tier or quantity changes it.
  const total = h("output", { id: newId("total"), class: "total", for: quantity.id, "aria-live": "polite" }, "");
  const submit = h("button", { class: "button", type: "submit", id: "reserve" }, "Reserve tickets");
  const existing = h("div");
  const form = h("form", { class: "reserve-form", novalidate: true },
    existing,
    h("fieldset", {}, h("legend", {}, "Choose a tier"), options),
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: quantity.id }, "How many tickets"), quantity),
      h("p", { class: "muted" }, total)),
    errors, pending,
    h("div", { class: "row" }, submit));

  const selected = () => tiers.find((t) => t.id === form.querySelector(`input[name="${name}"]:checked`)?.value);

  function renderOptions() {
    const current = selected()?.id;
    fill(options, tiers.map((tier) => {
      const left = remaining.get(tier.id) ?? 0;
      const input = h("input", { type: "radio", name, value: tier.id, disabled: left <= 0, checked: tier.id === current && left > 0 });
      return h("label", { class: "tier-option" }, input,
        h("span", {}, h("span", { class: "name" }, tier.name), h("br"),
          h("span", { class: "small muted" }, left > 0 ? `${plural(left, "ticket")} left · up to ${tier.per_user_limit} each` : "Sold out")),
        h("span", { class: "price" }, formatMoney(tier.price_cents)));
    }));
    if (!selected()) {
      const first = options.querySelector("input:not(:disabled)");
      if (first) first.checked = true;
    }
    renderQuantity();
  }

  function renderQuantity() {
    const tier = selected();
    const was = Number(quantity.value) || 1;
    const max = tier ? Math.max(0, Math.min(tier.per_user_limit, remaining.get(tier.id) ?? 0)) : 0;
    fill(quantity, Array.from({ length: max }, (_, i) => h("option", { value: i + 1, selected: i + 1 === Math.min(was, max) }, String(i + 1))));
    quantity.disabled = max === 0;
    submit.disabled = max === 0;
    const text = `Total: ${tier && max ? formatMoney(tier.price_cents * Number(quantity.value)) : "–"}`;
    // Unchanged text is left alone: an availability refresh must not repeat the total.
    if (total.textContent !== text) total.textContent = text;
  }

  options.addEventListener("change", renderQuantity);
  quantity.addEventListener("change", renderQuantity);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const tier = selected();
    if (!tier) return showError(errors, new Error("Choose a tier first."));
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    errors.replaceChildren();
    fill(pending, notice("info", null, spinner(), " Asking for your tickets… requests are decided in the order they arrive."));
    try {
      const res = await request(`/events/${encodeURIComponent(event.id)}/reservations`, {
        method: "POST", body: { tier_id: tier.id, quantity: Number(quantity.value), token }, wait: 5, signal: ctx.signal,
      });
      setLastReservation(event.id, res.data.id);
      // The reservation page announces the hold (or the wait) once it shows it.
      go(`/reservations/${res.data.id}`);
    } catch (err) {
      if (err.name === "AbortError") return;
      pending.replaceChildren();
      // A decided rejection comes back as the reservation itself, with a reason code.
      const reason = err.problem?.reason;
      showError(errors, reason ? new Error(reasonWords(reason)) : err, { title: "We could not reserve those tickets" });
      submit.disabled = false;
    } finally {
      submit.removeAttribute("aria-busy");
    }
  });

  renderOptions();
  showExisting(event.id, existing, ctx);
  const poller = poll(async () => {
    const a = await get(`/events/${encodeURIComponent(event.id)}/availability`, { signal: ctx.signal });
    let changed = false;
    for (const t of a.tiers || []) {
      if (remaining.get(t.tier_id) !== t.remaining) changed = true;
      remaining.set(t.tier_id, t.remaining);
    }
    if (changed && !form.contains(document.activeElement)) renderOptions();
    else if (changed) renderQuantity();
  }, { interval: 4000 });
  return { node: form, destroy: poller.stop };
}

/** If the fan already has a live reservation for this event, point to it. */
async function showExisting(eventId, slot, ctx) {
  const id = lastReservation(eventId);
  if (!id) return;
  try {
    const r = await get(`/reservations/${encodeURIComponent(id)}`, { signal: ctx.signal });
    if (r.status === "pending" || r.status === "held") {
      fill(slot, notice("info", "You already have tickets on hold", h("p", {}, h("a", { href: `#/reservations/${id}` }, "Continue with your reservation"), ".")));
    }
  } catch { /* an old id the server forgot is nothing to report */ }
}
