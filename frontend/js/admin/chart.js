// A small SVG line chart drawn from samples kept in memory (no library). Screen readers get
// the latest values in the label and the legend; the lines are for eyes.
import { fill, h, svg } from "../dom.js";
import { formatTime } from "../format.js";

// The drawing is made at the chart's real width (1 unit = 1 CSS pixel), so labels stay
// readable on a phone instead of shrinking with a fixed 520-unit drawing.
const MIN_W = 260;
const DEFAULT_W = 520;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 26 };

/** Round up to 1, 2 or 5 times a power of ten, so grid lines land on round numbers. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((n) => n >= value);
}

/** 12000 -> "12k", 1500 -> "1.5k", 0.25 -> "0.25" (two decimals at most, so 0.25 is not "0.3"). */
export const label = (v) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k` : String(Number(v.toFixed(2))));

/** How many grid steps divide `top` evenly; for whole-number series never a fractional step. */
export function gridSteps(top, integer) {
  const candidates = integer ? [4, 5, 2, 1].filter((n) => n <= top) : [4, 5, 2];
  return candidates.find((n) => Number.isInteger(top / n)) || (integer ? 1 : 4);
}

/**
 * lineChart("Queue", [{key: "waiting", label: "Waiting", color: "#4338ca"}], {unit: "fans", integer: true})
 * returns {node, draw(samples)}; a sample is {t: ms, values: {key: number}}.
 */
export function lineChart(title, series, { unit = "", windowMs = 5 * 60_000, integer = false } = {}) {
  const plot = svg("svg", { viewBox: `0 0 ${DEFAULT_W} ${H}`, role: "img", "aria-label": `${title}: waiting for data` });
  const legend = h("div", { class: "legend" });
  const node = h("figure", { class: "card chart", "data-chart": title },
    h("figcaption", {}, h("h3", {}, title)), plot, legend);

  function draw(samples) {
    const last = samples[samples.length - 1];
    if (!last) return;
    const t1 = last.t;
    const t0 = Math.max(samples[0].t, t1 - windowMs);
    const W = Math.max(MIN_W, Math.round(plot.getBoundingClientRect().width) || DEFAULT_W);
    plot.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const shown = samples.filter((s) => s.t >= t0);
    const top = niceMax(Math.max(0, ...shown.flatMap((s) => series.map((d) => s.values[d.key] ?? 0))));
    const x = (t) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.left - PAD.right);
    const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
    const parts = [];
    // Grid lines on whole numbers when the top allows it (counts are whole; rates need not be).
    const steps = gridSteps(top, integer);
    for (let i = 0; i <= steps; i++) {
      const v = (top / steps) * i;
      parts.push(svg("line", { class: i ? "chart-grid" : "chart-axis", x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
      parts.push(svg("text", { class: "chart-label", x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, label(v)));
    }
    for (const [t, anchor] of [[t0, "start"], [t0 + (t1 - t0) / 2, "middle"], [t1, "end"]]) {
      parts.push(svg("text", { class: "chart-label", x: x(t), y: H - 6, "text-anchor": anchor }, formatTime(t)));
    }
    for (const d of series) {
      const points = shown.filter((s) => s.values[d.key] != null).map((s) => `${x(s.t).toFixed(1)},${y(s.values[d.key]).toFixed(1)}`);
      if (points.length > 1) parts.push(svg("polyline", { points: points.join(" "), fill: "none", stroke: d.color, "stroke-width": 2.5, "stroke-linejoin": "round", "vector-effect": "non-scaling-stroke" }));
      const v = last.values[d.key];
      if (v != null) parts.push(svg("circle", { cx: x(t1), cy: y(v), r: 3.5, fill: d.color }));
    }
    fill(plot, ...parts);
    const latest = series.map((d) => `${d.label} ${label(last.values[d.key] ?? 0)}${unit ? ` ${unit}` : ""}`);
    plot.setAttribute("aria-label", `${title}, last ${Math.round((t1 - t0) / 1000)} seconds. Now: ${latest.join(", ")}.`);
    fill(legend, series.map((d) => h("span", {}, h("span", { class: "swatch", "data-color": d.color }), `${d.label}: ${label(last.values[d.key] ?? 0)}`)));
    legend.querySelectorAll(".swatch").forEach((el) => { el.style.background = el.dataset.color; });
  }
  return { node, draw };
}
