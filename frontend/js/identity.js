// Who the browser is: the fan's id and waiting-room tokens (localStorage, so they survive a
// reload and are shared by every tab), the admin token (sessionStorage, gone with the tab).

const PREFIX = "ticketdrop.";
const memory = new Map(); // fallback when storage is blocked (private mode, strict settings)

function store(kind) {
  try {
    const s = kind === "session" ? window.sessionStorage : window.localStorage;
    s.getItem("probe");
    return s;
  } catch {
    return null;
  }
}

export function read(key, kind = "local") {
  const s = store(kind);
  return s ? s.getItem(PREFIX + key) : memory.get(kind + key) ?? null;
}

export function write(key, value, kind = "local") {
  const s = store(kind);
  if (value === null || value === undefined) {
    s ? s.removeItem(PREFIX + key) : memory.delete(kind + key);
  } else {
    s ? s.setItem(PREFIX + key, value) : memory.set(kind + key, value);
  }
}

/** A random id; crypto.randomUUID only exists in secure contexts (https, localhost). */
export function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The fan's id (X-User-Id), created on first use. */
export function userId() {
  let id = read("userId");
  if (!id) {
    id = `fan-${randomId()}`;
    write("userId", id);
  }
  return id;
}

export const roomToken = (eventId) => read(`token.${eventId}`);
export const setRoomToken = (eventId, token) => write(`token.${eventId}`, token);

/** The fan's latest reservation for an event, so the waiting room can point back to it. */
export const lastReservation = (eventId) => read(`reservation.${eventId}`);
export const setLastReservation = (eventId, id) => write(`reservation.${eventId}`, id);

/**
 * The Idempotency-Key of one checkout attempt: made once, reused by every retry of that
 * attempt (even after a reload), dropped when the attempt is over.
 */
export function idempotencyKey(scope) {
  let key = read(`idem.${scope}`);
  if (!key) {
    key = randomId();
    write(`idem.${scope}`, key);
  }
  return key;
}
export const dropIdempotencyKey = (scope) => write(`idem.${scope}`, null);

export const adminToken = () => read("adminToken", "session");
export const setAdminToken = (token) => write("adminToken", token, "session");
