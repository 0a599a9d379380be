// The live dashboard of one event: GET /admin/events/{id}/status polled every 2 s; samples are
// kept in memory (the page draws its own charts) and the sale can be paused, resumed and its
// admission waves resized from here.
import { fill, h } from "../dom.js";
import { formatMoney } from "../format.js";
import { poll } from "../poll.js";
import { announce, busyAction, field, loadOr, notice, progressBar, scrollBox, showError, spinner } from "../ui.js";
import { lineChart } from "./chart.js";
import { statusBadges } from "./events.js";
import { admin, aget } from "./session.js";

/** Samples kept: 20 minutes at one every 2 s. */
const MAX_SAMPLES = 600;

/** The queue counters, wherever the status document puts them. */
export function queueOf(s) {
  const q = s.queue || {};
  return { waiting: q.waiting ?? s.queue_waiting ?? 0, admitted: q.admitted ?? s.queue_admitted ?? 0, expired: q.expired ?? s.queue_expired ?? 0 };
}

export async function dashboardView(root, ctx) {
  const [id] = ctx.params;
  root.append(spinner("Loading the dashboard"));
  const event = await loadOr(() => aget(`/admin/events/${encodeURIComponent(id)}`, { signal: ctx.signal }),
    (err) => fill(root, h("h1", {}, "Dashboard"), showError(h("div"), err, { focus: false })));
  if (event === undefined) return;
  const price = new Map((event.tiers || []).map((t) => [t.id, t.price_cents]));
  const badges = h("span", { id: "event-status" }, statusBadges(event));
  const errors = h("div");
  const kpis = h("div", { class: "kpis", id: "kpis" });
  const tierBody = h("tbody");
  const charts = {
    tickets: lineChart("Tickets", [{ key: "sold", label: "Sold", color: "#059669" }, { key: "held", label: "Held", color: "#d97706" }, { key: "remaining", label: "Remaining", color: "#4338ca" }], { integer: true }),
    queue: lineChart("Waiting room", [{ key: "waiting", label: "Waiting", color: "#4338ca" }, { key: "admitted", label: "Admitted", color: "#059669" }, { key: "expired", label: "Expired", color: "#94a3b8" }], { unit: "fans", integer: true }),
    rates: lineChart("Rates per minute", [{ key: "reservations", label: "Reservations", color: "#0284c7" }, { key: "orders", label: "Orders", color: "#be185d" }]),
  };
  const controls = controlsPanel(id, ctx, (doc) => apply(doc));

  fill(root,
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Events"), " / ", h("a", { href: `#/events/${id}` }, event.name), " / Dashboard"),
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, `Live: ${event.name}`), h("p", {}, badges, " ", h("span", { class: "muted small", id: "updated" }, ""))),
      h("a", { class: "button button-secondary", href: `#/events/${id}` }, "Edit event")),
    errors, kpis, controls.node,
    h("section", { class: "card", "aria-labelledby": "tiers-h" }, h("h2", { id: "tiers-h" }, "Per tier"),
      scrollBox("Per tier", h("table", { id: "tier-status" },
        h("thead", {}, h("tr", {}, ["Tier", "Capacity", "Sold", "Held", "Remaining", "Revenue", ""].map((t, i) => h("th", { scope: "col", class: i && i < 6 ? "num" : null }, t)))),
        tierBody))),
    h("div", { class: "charts" }, Object.values(charts).map((c) => c.node)));

  const samples = [];
  let lastPaused = null;
  function apply(s) {
    if (s.paused !== undefined && s.paused !== lastPaused) {
      if (lastPaused !== null) announce(s.paused ? "The sale is paused." : "The sale resumed.");
      lastPaused = s.paused;
      event.paused = s.paused;
      fill(badges, statusBadges({ ...event, status: s.status || event.status }));
      controls.setPaused(s.paused);
    }
    if (s.wave_size !== undefined) controls.setWaves(s.wave_size, s.wave_interval_s);
  }

  const poller = poll(async () => {
    const s = await aget(`/admin/events/${encodeURIComponent(id)}/status`, { signal: ctx.signal });
    errors.replaceChildren();
    const now = Date.now();
    const q = queueOf(s);
    const prev = samples[samples.length - 1];
    // The server's own rate when it gives one; otherwise the change between two samples.
    const orderRate = s.order_rate_per_s != null ? s.order_rate_per_s * 60
      : prev ? Math.max(0, ((s.orders_paid ?? 0) - prev.orders) / ((now - prev.t) / 60000)) : 0;
    samples.push({ t: now, orders: s.orders_paid ?? 0, values: {
      sold: s.sold, held: s.held, remaining: s.remaining, ...q,
      reservations: (s.reservation_rate_per_s ?? 0) * 60, orders: orderRate } });
    if (samples.length > MAX_SAMPLES) samples.shift();
    apply(s);
    renderKpis(kpis, s, q, orderRate);
    renderTiers(tierBody, s.tiers || [], price);
    Object.values(charts).forEach((c) => c.draw(samples));
    document.getElementById("updated").textContent = `Updated ${new Date(now).toLocaleTimeString()}`;
  }, { interval: 2000, onError: (err) => showError(errors, err, { title: "Live status is unavailable", focus: false }) });
  ctx.onLeave(poller.stop);
}

function kpi(label, value, id) {
  return h("div", { class: "stat", id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

const n = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString());

function renderKpis(el, s, q, orderRate) {
  fill(el,
    kpi("Sold", n(s.sold), "kpi-sold"), kpi("Held", n(s.held), "kpi-held"), kpi("Remaining", n(s.remaining), "kpi-remaining"),
    kpi("Waiting", n(q.waiting), "kpi-waiting"), kpi("Admitted", n(q.admitted), "kpi-admitted"), kpi("Expired", n(q.expired), "kpi-expired"),
    kpi("Orders paid", n(s.orders_paid), "kpi-orders"),
    kpi("Reservation rate", [((s.reservation_rate_per_s ?? 0) * 60).toFixed(1), h("small", { class: "unit" }, " /min")], "kpi-res-rate"),
    kpi("Order rate", [orderRate.toFixed(1), h("small", { class: "unit" }, " /min")], "kpi-order-rate"));
}

function renderTiers(body, tiers, price) {
  fill(body, tiers.map((t) => {
    const bar = progressBar(`${t.name} sold`);
    bar.set(t.capacity ? ((t.sold + t.held) / t.capacity) * 100 : 0);
    const cents = price.get(t.tier_id ?? t.id) ?? t.price_cents;
    return h("tr", {},
      h("th", { scope: "row" }, t.name),
      h("td", { class: "num" }, n(t.capacity)), h("td", { class: "num" }, n(t.sold)), h("td", { class: "num" }, n(t.held)), h("td", { class: "num" }, n(t.remaining)),
      h("td", { class: "num" }, cents != null ? formatMoney(cents * t.sold) : "–"),
      h("td", { class: "avail" }, bar));
  }));
}

function controlsPanel(id, ctx, onStatus) {
  const toggle = h("button", { class: "button", type: "button", id: "pause-toggle" }, "…");
  let paused = null;
  const errors = h("div");
  toggle.addEventListener("click", busyAction(toggle, async () => {
    const { data } = await admin(`/admin/events/${encodeURIComponent(id)}/${paused ? "resume" : "pause"}`, { method: "POST", signal: ctx.signal });
    onStatus({ ...data, paused: data.paused ?? !paused });
  }, { errorSlot: errors }));
  const size = h("input", { type: "number", min: 1, step: 1, id: "wave-size", name: "wave_size" });
  const interval = h("input", { type: "number", min: 0.1, step: 0.1, id: "wave-interval", name: "wave_interval_s" });
  const save = h("button", { class: "button button-secondary", type: "submit" }, "Apply");
  const saved = h("div", { "aria-live": "polite" });
  let touched = false;
  const waves = h("form", { class: "row", novalidate: true, id: "wave-form" },
    field("Wave size (fans)", size), field("Seconds between waves", interval), save);
  waves.addEventListener("input", () => { touched = true; });
  waves.addEventListener("submit", busyAction(save, async () => {
    const body = { wave_size: Number(size.value), wave_interval_s: Number(interval.value) };
    const { data } = await admin(`/admin/events/${encodeURIComponent(id)}`, { method: "PATCH", body, signal: ctx.signal });
    touched = false;
    fill(saved, notice("ok", null, `Waves: ${data.wave_size ?? body.wave_size} fans every ${data.wave_interval_s ?? body.wave_interval_s} s.`));
  }, { errorSlot: errors, busyLabel: "Applying…" }));
  return {
    node: h("section", { class: "card controls", "aria-labelledby": "ctl-h" }, h("h2", { id: "ctl-h" }, "Controls"),
      h("div", { class: "row" }, toggle, h("p", { class: "muted small" }, "Pausing stops admission waves and new reservations; tickets already held keep their timer.")),
      waves, errors, saved),
    setPaused(value) {
      paused = value;
      toggle.textContent = value ? "Resume the sale" : "Pause the sale";
      toggle.className = value ? "button button-ok" : "button button-danger";
    },
    setWaves(waveSize, waveInterval) {
      // Do not overwrite what the operator is typing.
      if (touched) return;
      if (waveSize != null) size.value = waveSize;
      if (waveInterval != null) interval.value = waveInterval;
    },
  };
}
