// Pieces several fan screens share: the event's sale badge, its colour, cached event details.
import { get } from "../api.js";
import { h, svg } from "../dom.js";
import { formatDate, formatDuration, secondsUntil } from "../format.js";
import { badge } from "../ui.js";

/** 32 well-mixed bits from a string (FNV-1a, then a final avalanche): similar ids differ everywhere. */
function hash32(text, seed = 0) {
  let x = (2166136261 ^ seed) >>> 0;
  for (const c of String(text)) x = Math.imul(x ^ c.charCodeAt(0), 16777619) >>> 0;
  x ^= x >>> 16; x = Math.imul(x, 2246822507) >>> 0; x ^= x >>> 13; x = Math.imul(x, 3266489909) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The card art of an event: an abstract pattern drawn from its id, so no two events look alike
 * (initials collided: "BB" was both Bulls vs Bucks and Bad Bunny). Hue, second hue, pattern and
 * its angle and spacing each come from their own bits of the id's hash. Decorative: the card's
 * heading names the event.
 */
export function eventArt(id) {
  const a = hash32(id);
  const b = hash32(id, 0x9e3779b9);
  const hue = a % 360;
  const hue2 = (hue + 40 + (a >>> 9) % 140) % 360;
  const kind = (a >>> 17) % 4;
  const angle = ((b % 12) * 15);
  const step = 14 + ((b >>> 4) % 4) * 6;
  const uid = `art-${hash32(id, 7).toString(36)}`;
  const dark = (hh, l) => `hsl(${hh} 62% ${l}%)`;
  const shapes = [];
  for (let i = -2; i < 24; i++) {
    const offset = i * step;
    if (kind === 0) shapes.push(svg("rect", { x: offset, y: -60, width: step / 2.5, height: 240, fill: "#fff", opacity: 0.16 }));
    else if (kind === 1 && i >= 0) shapes.push(svg("circle", { cx: 40 + ((b >>> 8) % 220), cy: 52, r: offset + step, fill: "none", stroke: "#fff", "stroke-width": 2, opacity: 0.22 }));
    else if (kind === 2) for (let j = -1; j < 8; j++) shapes.push(svg("circle", { cx: offset + (j % 2) * step / 2, cy: j * step * 0.8, r: step / 5, fill: "#fff", opacity: 0.2 }));
    else shapes.push(svg("path", { d: `M-20 ${offset} q 30 -${step} 60 0 t 60 0 t 60 0 t 60 0 t 60 0 t 60 0`, fill: "none", stroke: "#fff", "stroke-width": 3, opacity: 0.2 }));
  }
  const drawing = svg("svg", { viewBox: "0 0 320 104", preserveAspectRatio: "xMidYMid slice" },
    svg("defs", {}, svg("linearGradient", { id: uid, x1: 0, y1: 0, x2: 1, y2: 1 },
      svg("stop", { offset: 0, "stop-color": dark(hue, 34) }), svg("stop", { offset: 1, "stop-color": dark(hue2, 40) }))),
    svg("rect", { width: 320, height: 104, fill: `url(#${uid})` }),
    svg("g", { transform: `rotate(${angle} 160 52)` }, shapes));
  // An image, not inline SVG: the pattern's shapes reach far past the card (clipped only when
  // drawn), and inline they made axe-core take every text on the page as overlapped, so it could
  // not check any contrast there. alt="": decorative.
  const src = `data:image/svg+xml,${encodeURIComponent(new XMLSerializer().serializeToString(drawing))}`;
  return h("img", { class: "art", src, alt: "", "data-art": `${hue}-${hue2}-${kind}` });
}

/** Where the sale stands: "sold_out" | "canceled" | "closed" | "paused" | "upcoming" | "on_sale". */
export function salePhase(event) {
  if (event.sold_out) return "sold_out";
  if (event.status === "canceled") return "canceled";
  if (event.status === "closed") return "closed";
  if (event.paused) return "paused";
  const left = secondsUntil(event.on_sale_at);
  if (event.status !== "on_sale" && left !== null && left > 0) return "upcoming";
  return "on_sale";
}

/** The sale badge; call again every second for a ticking countdown. */
export function saleBadge(event) {
  switch (salePhase(event)) {
    case "sold_out": return badge("Sold out", "bad");
    case "canceled": return badge("Canceled", "bad");
    case "closed": return badge("Sale ended", "neutral");
    case "paused": return badge("Sale paused", "warn");
    case "upcoming": return badge(`On sale in ${formatDuration(secondsUntil(event.on_sale_at))}`, "info");
    default: return badge("On sale", "ok");
  }
}

/**
 * What the event page says about the sale, true for the phase it is in: before on-sale the
 * pre-queue draw; once open, arrival order.
 */
export function saleWords(event) {
  const opens = h("time", { datetime: event.on_sale_at }, formatDate(event.on_sale_at, event.timezone));
  switch (salePhase(event)) {
    case "upcoming":
      return ["Sale opens ", opens, ". Everyone who joins before then gets a random, verifiable place in line. "];
    case "on_sale":
    case "paused":
      return ["On sale since ", opens, ". Fans who join now are let in in order of arrival, after those drawn at the opening. "];
    default:
      return ["The sale opened ", opens, ". "];
  }
}

/** Fans may join the waiting room before and during the sale. */
export const canJoin = (event) => ["upcoming", "on_sale", "paused"].includes(salePhase(event));

const eventCache = new Map();
/** The public event with tiers, fetched once per page load (names and prices do not change mid-drop). */
export async function cachedEvent(eventId, { signal } = {}) {
  if (!eventCache.has(eventId)) {
    const pending = get(`/events/${encodeURIComponent(eventId)}`, { signal });
    eventCache.set(eventId, pending);
    pending.catch(() => eventCache.delete(eventId));
  }
  return eventCache.get(eventId);
}

export const crumbs = (...links) => h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
  links.map(([label, href], i) => [i ? " / " : null, href ? h("a", { href }, label) : h("span", { "aria-current": "page" }, label)]));

/** Plain words for a reservation's rejection reason code. */
export function reasonWords(reason) {
  const words = {
    sold_out: "Those tickets sold out before your request was decided.",
    insufficient: "There were not enough tickets left in that tier.",
    limit: "That would take you over the ticket limit for this event.",
    limit_exceeded: "That would take you over the ticket limit for this event.",
    paused: "The sale was paused while your request was waiting.",
    not_on_sale: "The sale is not open.",
    not_admitted: "Your turn in the waiting room had not come yet, or it expired.",
  };
  return words[reason] || (reason ? `The request was declined (${String(reason).replaceAll("_", " ")}).` : "The request was declined.");
}
