// The one door to the HTTP API: identity headers, problem+json turned into plain words,
// and the connection state every page shows in its header.
import { adminToken, userId } from "./identity.js";

const STATUS_WORDS = {
  0: "We cannot reach TicketDrop. Check your connection; we keep trying.",
  400: "The request was not understood.",
  401: "Please sign in again.",
  403: "You are not allowed to do that.",
  404: "We could not find that.",
  409: "That is not possible right now.",
  410: "That has expired.",
  422: "Some of the details are not valid.",
  429: "Too many requests. Please wait a moment.",
  503: "TicketDrop is busy or partly down. Please try again shortly.",
};

/** An API failure with the server's own words (problem+json `detail`) as its message. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    const p = problem && typeof problem === "object" ? problem : {};
    super(p.detail || p.title || STATUS_WORDS[status] || `Something went wrong (HTTP ${status}).`);
    this.name = "ApiError";
    this.status = status;
    this.code = p.code || null;
    this.problem = p;
    this.fieldErrors = Array.isArray(p.errors) ? p.errors : [];
    this.retryAfter = retryAfter ? Number(retryAfter) || null : null;
    this.requestId = p.request_id || null;
  }

  /** Field messages that add to the detail, e.g. "price_cents: must be at least 0". */
  get extraLines() {
    return this.fieldErrors
      .filter((e) => e.message && e.message !== this.message)
      .map((e) => (e.field ? `${e.field.replace(/^(body|query|header|path)\./, "")}: ${e.message}` : e.message));
  }
}

// --- connection state -------------------------------------------------------------
const listeners = new Set();
let connection = navigator.onLine === false ? "offline" : "unknown";

export function connectionState() {
  return connection;
}

/** Call fn(state) now and on every change: "online" | "degraded" | "offline" | "unknown". */
export function onConnection(fn) {
  listeners.add(fn);
  fn(connection);
  return () => listeners.delete(fn);
}

function setConnection(state) {
  if (state === connection) return;
  connection = state;
  for (const fn of listeners) fn(state);
}

window.addEventListener("offline", () => setConnection("offline"));
window.addEventListener("online", () => fetch("/health", { cache: "no-store" }).then(
  (r) => setConnection(r.ok ? "online" : "degraded"), () => setConnection("offline")));

// --- identity -----------------------------------------------------------------------
/**
 * Production identity (IDENTITY_MODE=jwt): the host page defines
 * `window.TicketDrop = { getToken: () => "<JWT>" }` (it may return a promise, e.g. from its
 * identity provider's SDK, refreshing as needed) before this script runs. When the hook is there
 * every fan request carries `Authorization: Bearer <token>` and no X-User-Id; without it the page
 * is in demo mode and names the fan with the X-User-Id kept in this browser.
 */
export function usesBearerToken() {
  return typeof window.TicketDrop?.getToken === "function";
}

async function setFanIdentity(h) {
  if (!usesBearerToken()) {
    h.set("X-User-Id", userId());
    return;
  }
  const token = await window.TicketDrop.getToken();
  if (token) h.set("Authorization", `Bearer ${token}`);
}

// --- requests -----------------------------------------------------------------------
/**
 * Call the API. Returns {status, data, location, headers}; throws ApiError on 4xx/5xx
 * (status 0 when the server cannot be reached). AbortError passes through untouched.
 * `cache` is fetch's cache mode: "no-store" unless the answer is a shared, cacheable document.
 */
export async function request(path, { method = "GET", body, headers = {}, admin = false, user = true, wait, signal, blob = false, cache = "no-store" } = {}) {
  const h = new Headers(headers);
  h.set("Accept", blob ? "*/*" : "application/json, application/problem+json");
  if (user && !admin) await setFanIdentity(h);
  if (admin) h.set("Authorization", `Bearer ${adminToken() || ""}`);
  if (wait) h.set("Prefer", `wait=${wait}`);
  let payload;
  if (body !== undefined) {
    h.set("Content-Type", "application/json");
    payload = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers: h, body: payload, signal, cache });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    setConnection("offline");
    throw new ApiError(0, null);
  }
  setConnection(resp.status === 503 ? "degraded" : "online");
  const type = resp.headers.get("Content-Type") || "";
  if (resp.ok && blob) return { status: resp.status, data: await resp.blob(), headers: resp.headers };
  const data = type.includes("json") ? await resp.json().catch(() => null) : null;
  if (!resp.ok) throw new ApiError(resp.status, data, resp.headers.get("Retry-After"));
  return { status: resp.status, data, location: resp.headers.get("Location"), headers: resp.headers };
}

/** GET and return the JSON body. */
export async function get(path, opts = {}) {
  return (await request(path, opts)).data;
}

export const post = (path, body, opts = {}) => request(path, { ...opts, method: "POST", body });
export const patch = (path, body, opts = {}) => request(path, { ...opts, method: "PATCH", body });
export const del = (path, opts = {}) => request(path, { ...opts, method: "DELETE" });
