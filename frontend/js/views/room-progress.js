// The waiting room polls the room's shared progress document, the same for every fan (an edge
// cache answers it), and asks for the fan's own status only when that may have changed: at the
// start, when the progress reaches the fan's place, while admitted, and after a restore. A
// change of state (on-sale, pause, resume, sold out) is read from the progress, and a pre-queue
// fan computes its place in the draw from the revealed salt (the fairness document, also the
// same for everyone), so neither sends a crowd of status reads to the server.
// bench/drop/progress.py simulates fans by the same rule.
import { hasWebCrypto, hexToBytes, hmacSha256 } from "../crypto.js";

/** Hex digits of the fan's HMAC read as its fraction of the draw: 52 bits, exact in a double. */
const FRACTION_DIGITS = 13;

/**
 * [expected place, earliest possible place] in the pre-queue draw of a fan whose draw HMAC is
 * `hmacHex`, among `size` fans. The place is 1 + the number of other fans' HMACs below this one;
 * with u = HMAC / 2^256 that is Binomial(size - 1, u), below its mean by more than 4 sqrt(size)
 * with probability under e^-32 (Hoeffding). The same numbers as bench/drop/progress.py.
 */
export function placeEstimate(hmacHex, size) {
  const u = parseInt(hmacHex.slice(0, FRACTION_DIGITS), 16) / 16 ** FRACTION_DIGITS;
  const expected = 1 + Math.floor((size - 1) * u);
  return [expected, Math.max(1, expected - Math.ceil(4 * Math.sqrt(size)))];
}

/** Whether a queued pre-queue fan should compute its place from the draw now. */
export function wantsPlaceEstimate(status, progress) {
  return Boolean(status && status.admission === "queued" && (status.position ?? null) === null && progress.drawn
    && !("earliestPosition" in status));
}

/**
 * `status` with the place its fan computes from the revealed draw (`fairness`, the document of
 * GET .../waiting-room/fairness): HMAC-SHA256(salt, token) as the fairness page checks it.
 * Both fields are null when it cannot (not revealed, no WebCrypto): then the fan reads its status.
 */
export async function withPlaceEstimate(status, token, fairness) {
  const key = fairness?.salt ? hexToBytes(fairness.salt) : null;
  if (!key || !fairness.prequeue_size || !hasWebCrypto()) return { ...status, estimatedPosition: null, earliestPosition: null };
  const [expected, earliest] = placeEstimate(await hmacSha256(key, token), fairness.prequeue_size);
  return { ...status, estimatedPosition: expected, earliestPosition: earliest };
}

/**
 * Whether a fan whose last status is `status` must read it again, given the room's `progress`:
 * while admitted (the fan's own clock), once the admissions reach its place (for a pre-queue
 * fan after the draw, the earliest place its estimate allows; without one, at once), and once
 * the room was rebuilt (`roomGeneration`). Nothing else in a queued fan's status is its own: the
 * state (opening, pause, resume, sold out), the place ahead and the ETA follow from the progress.
 */
export function needsOwnStatus(status, progress) {
  if (!status || status.admission !== "queued") return true;
  // The room was rebuilt after a data loss: the fan's place may have changed or gone.
  if (status.roomGeneration !== progress.roomGeneration) return true;
  let position = status.position ?? null;
  if (position === null) {
    if (!progress.drawn) return false;
    position = status.earliestPosition ?? null;
    if (position === null) return true;
  }
  return (progress.admittedThrough ?? 0) >= position;
}

/** The fan's place: the one the server gave, or until the fan reads it, the one it computed from the draw. */
export const placeOf = (s) => s?.position ?? s?.estimatedPosition ?? null;

/**
 * `status` as the server would tell it now that the room is at `progress`: the place ahead
 * from `admittedThrough`, the ETA from the measured pace (positions per minute); a pre-queue
 * fan counts them from its estimated place until it reads the real one.
 */
export function movedOn(status, progress) {
  let position = status.position ?? null;
  if (position === null && progress.drawn) position = status.estimatedPosition ?? null;
  const through = progress.admittedThrough ?? 0;
  const out = { ...status, state: progress.state, total: Math.max(progress.total ?? 0, status.position ?? 0) };
  if (position !== null) {
    const perSecond = (progress.positionsPerMinute ?? 0) / 60;
    out.aheadOfYou = Math.max(0, position - through - 1);
    out.etaSeconds = perSecond > 0 ? Math.ceil((position - through) / perSecond) : null;
  }
  return out;
}
