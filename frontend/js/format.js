// Money, dates and durations in the reader's own locale.

const money = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" });
const dateTime = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export const formatMoney = (cents) => (cents === null || cents === undefined ? "" : money.format(cents / 100));

export function formatPriceRange(min, max) {
  if (min === null || min === undefined) return "Prices to be announced";
  return min === max ? formatMoney(min) : `${formatMoney(min)} – ${formatMoney(max)}`;
}

export const formatDate = (iso) => (iso ? dateTime.format(new Date(iso)) : "");
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
