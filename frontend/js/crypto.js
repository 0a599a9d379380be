// WebCrypto helpers for the fairness proof. crypto.subtle exists only in secure contexts
// (https or localhost); callers say so in plain words when it is missing.

export const hasWebCrypto = () => Boolean(globalThis.crypto?.subtle);

const utf8 = (text) => new TextEncoder().encode(text);

export function hexToBytes(hex) {
  if (!/^(?:[0-9a-f]{2})*$/i.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export const toHex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** HMAC-SHA256(key, message) as lowercase hex. `key` and `message` are bytes or strings (UTF-8). */
export async function hmacSha256(key, message) {
  const k = await crypto.subtle.importKey("raw", typeof key === "string" ? utf8(key) : key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(await crypto.subtle.sign("HMAC", k, typeof message === "string" ? utf8(message) : message));
}

/** SHA-256 as lowercase hex. */
export async function sha256(data) {
  return toHex(await crypto.subtle.digest("SHA-256", typeof data === "string" ? utf8(data) : data));
}
