// Pieces several fan screens share: the event's sale badge, its colour, cached event details.
import { get } from "../api.js";
import { h } from "../dom.js";
import { formatDuration, secondsUntil } from "../format.js";
import { badge } from "../ui.js";

/** A stable colour for an event's card art, from its id. */
export function hueClass(id) {
  let hash = 2166136261; // FNV-1a: spreads similar ids over all six colours
  for (const c of String(id)) hash = Math.imul(hash ^ c.charCodeAt(0), 16777619) >>> 0;
  return `hue-${hash % 6}`;
}

/** Initials for the card art ("Lakers vs Warriors" -> "LW"). */
export function initials(name) {
  const words = String(name).split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w) && !/^(vs\.?|the|and|&|of)$/i.test(w));
  return words.slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "★";
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
