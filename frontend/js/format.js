// Money, dates and durations in the reader's own locale; an event's times on its venue's clock.

const money = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export const formatMoney = (cents) => (cents === null || cents === undefined ? "" : money.format(cents / 100));

export function formatPriceRange(min, max) {
  if (min === null || min === undefined) return "Prices to be announced";
  return min === max ? formatMoney(min) : `${formatMoney(min)} – ${formatMoney(max)}`;
}

/** The zone the reader's device is in (the default for a new event's venue). */
export const deviceTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** `zone` if this browser knows it, else UTC: a zone newer than the browser's data must not break a page. */
export function knownZone(zone) {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone || "UTC" });
    return zone || "UTC";
  } catch {
    return "UTC";
  }
}

const dateTimes = new Map();
/**
 * "Sat, Dec 12, 2026, 07:00 PM PST": a moment on the clock of `timeZone` (the venue's), with
 * the zone named, so a fan elsewhere is never misled by their own device's zone.
 */
export function formatDate(iso, timeZone = "UTC") {
  if (!iso) return "";
  const zone = knownZone(timeZone);
  if (!dateTimes.has(zone)) {
    dateTimes.set(zone, new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: zone, timeZoneName: "short",
    }));
  }
  return dateTimes.get(zone).format(new Date(iso));
}

const pad = (n) => String(n).padStart(2, "0");
const wallParts = new Map();
/** The wall-clock fields of an instant in `zone`: {year, month, day, hour, minute, second}. */
function wallClock(ms, zone) {
  if (!wallParts.has(zone)) {
    wallParts.set(zone, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
    }));
  }
  const parts = Object.fromEntries(wallParts.get(zone).formatToParts(new Date(ms)).map((p) => [p.type, Number(p.value)]));
  return parts;
}

/** ISO instant -> "YYYY-MM-DDTHH:MM:SS" on the clock of `zone` (for a datetime-local input). */
export function toZonedInput(iso, zone) {
  if (!iso) return "";
  const w = wallClock(Date.parse(iso), knownZone(zone));
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

/**
 * "YYYY-MM-DDTHH:MM[:SS]" read on the clock of `zone` -> ISO 8601 UTC. The zone's offset is
 * found by formatting a guess back and correcting it (twice, for a guess across a DST change).
 * A wall time that a spring-forward gap skips resolves to the hour next to it.
 */
export function fromZonedInput(value, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
  if (!m) return null;
  const [, y, mo, d, hh, mm, ss = "0"] = m.map((x) => x);
  const wanted = Date.UTC(+y, +mo - 1, +d, +hh, +mm, +ss);
  const z = knownZone(zone);
  let guess = wanted;
  for (let i = 0; i < 2; i++) {
    const w = wallClock(guess, z);
    const seen = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
    guess += wanted - seen;
  }
  return new Date(guess).toISOString();
}
export const formatTime = (iso) => (iso ? timeOnly.format(new Date(iso)) : "");

/** 3725 -> "1 h 02 min"; 125 -> "2 min 05 s"; 9 -> "9 s". For reading aloud as well as looking at. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${m} min ${String(sec).padStart(2, "0")} s`;
  return `${sec} s`;
}

/** 125 -> "02:05", 3725 -> "1:02:05": a ticking clock. */
export function formatClock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const hr = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hr ? `${hr}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** "about 2 minutes" style ETA; null when unknown. */
export function formatEta(seconds) {
  if (seconds === null || seconds === undefined) return null;
  if (seconds < 5) return "any moment now";
  if (seconds < 60) return `about ${Math.ceil(seconds / 5) * 5} seconds`;
  const m = Math.round(seconds / 60);
  return m < 60 ? `about ${m} minute${m === 1 ? "" : "s"}` : `about ${formatDuration(seconds)}`;
}

export const plural = (n, word, many = `${word}s`) => `${n.toLocaleString()} ${n === 1 ? word : many}`;

// The server's clock, learnt from its answers, so countdowns agree with it even when the
// device clock is off by minutes.
let offsetMs = 0;
export function learnServerTime(serverIsoOrMs, secondsUntil) {
  const target = typeof serverIsoOrMs === "number" ? serverIsoOrMs : Date.parse(serverIsoOrMs);
  if (Number.isFinite(target) && typeof secondsUntil === "number") offsetMs = target - secondsUntil * 1000 - Date.now();
}
export const serverNow = () => Date.now() + offsetMs;
export const secondsUntil = (iso) => (iso ? (Date.parse(iso) - serverNow()) / 1000 : null);
