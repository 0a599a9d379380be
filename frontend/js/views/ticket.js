// One ticket as a card with its QR code. Where the event's gate takes the live code
// (ticket_mode rotating or both) the QR is drawn here, on the fan's device, every ROTATE_S
// seconds from the ticket's own secret (GET /me/tickets/{code}/rotating): a screenshot stops
// scanning within a step or two, and the phone needs no network at the gate once the page is
// open. Otherwise it is the server's signed static QR. Either is shown through a blob: URL in
// an <img>, which never runs scripts. Paper cannot change every step, so where the live code is
// shown the printout carries the static QR instead (both), or says to bring the phone (rotating).
import { get, request } from "../api.js";
import { hasWebCrypto, hexToBytes, hmacSha256 } from "../crypto.js";
import { renderSVG } from "../vendor/uqr.js";
import { h } from "../dom.js";
import { formatDate } from "../format.js";
import { badge, spinner } from "../ui.js";

const STATUS = { valid: ["Valid", "ok"], issued: ["Valid", "ok"], checked_in: ["Checked in", "neutral"], void: ["Void", "bad"] };

export function ticketCard(ticket, ctx) {
  const qr = h("div", { class: "qr" }, spinner("Loading the QR code"));
  const [label, kind] = STATUS[ticket.status] || [ticket.status || "Valid", "ok"];
  const event = ticket.event || {};
  const card = h("article", { class: ["ticket", `is-${ticket.status}`], "data-code": ticket.code, "aria-label": `Ticket for ${event.name || "event"}, ${ticket.tier?.name || ""}` },
    h("div", {},
      h("h3", {}, event.name || "Ticket"),
      h("p", { class: "muted small" }, [event.venue, event.starts_at ? formatDate(event.starts_at, event.timezone) : null].filter(Boolean).join(" · ")),
      h("dl", {},
        h("dt", {}, "Tier"), h("dd", {}, ticket.tier?.name || "–"),
        h("dt", {}, "Ticket"), h("dd", {}, ticket.seq ? `#${ticket.seq}` : "–"),
        h("dt", {}, "Code"), h("dd", { class: "mono" }, ticket.code),
        h("dt", {}, "Status"), h("dd", {}, badge(label, kind)))),
    qr,
    ticket.qr_payload && event.ticket_mode !== "rotating" ? h("details", {}, h("summary", {}, "Show the QR payload (for typing in at the door)"), h("p", { class: "mono qr-payload" }, ticket.qr_payload)) : null);
  const live = ticket.status === "valid" && ["rotating", "both"].includes(event.ticket_mode);
  // On paper, in place of the screen's QR: the static QR where the gate takes it, else what to do.
  let printed = null;
  if (live && event.ticket_mode === "rotating") {
    printed = h("div", { class: "qr print-only" }, h("p", { class: "small", role: "note" }, "Printed codes are not accepted at this event: show this ticket live on your phone at the door."));
  } else if (live && hasWebCrypto()) {
    printed = h("div", { class: "qr print-only" });
    loadQr(ticket.code, printed, ctx);
  }
  if (printed) {
    qr.classList.add("no-print");
    qr.after(printed);
  }
  if (live && hasWebCrypto()) showLiveQr(ticket.code, qr, ctx);
  else if (live && event.ticket_mode === "rotating") {
    // The printed code does not scan at this event: say what to do instead of showing it.
    qr.replaceChildren(h("p", { class: "small muted", role: "note" }, "Open this page over https (or in the TicketDrop app) to show your live ticket at the door."));
  } else loadQr(ticket.code, qr, ctx);
  return card;
}

function showImage(slot, svg, alt, ctx) {
  const url = URL.createObjectURL(svg instanceof Blob ? svg : new Blob([svg], { type: "image/svg+xml" }));
  ctx.onLeave(() => URL.revokeObjectURL(url));
  const previous = slot.querySelector("img");
  if (previous) URL.revokeObjectURL(previous.src);
  return h("img", { src: url, alt, width: 124, height: 124 });
}

/** The live code: `code.step.mac`, mac = first digits of HMAC-SHA256(secret, "code|step"). */
async function showLiveQr(code, slot, ctx) {
  let key;
  try {
    key = await get(`/me/tickets/${encodeURIComponent(code)}/rotating`, { signal: ctx.signal });
  } catch (err) {
    if (err.name === "AbortError") return;
    loadQr(code, slot, ctx);  // the printed code, where the event takes it
    return;
  }
  const secret = hexToBytes(key.secret);
  const skewMs = key.server_time_ms - Date.now();  // the scanner goes by the server's clock
  let shown = null;
  const draw = async () => {
    const step = Math.floor((Date.now() + skewMs) / 1000 / key.rotate_s);
    if (step === shown) return;
    shown = step;
    const mac = (await hmacSha256(secret, `${code}|${step}`)).slice(0, key.mac_hex_digits);
    const payload = `${code}.${step}.${mac}`;
    const img = showImage(slot, renderSVG(payload, { ecc: "M", border: 4, pixelSize: 4 }), `Live QR code of ticket ${code}`, ctx);
    slot.replaceChildren(img, h("p", { class: "small muted qr-live", "data-payload": payload, "data-step": String(step) },
      `Live code: changes every ${key.rotate_s} s. A screenshot will not work at the door.`));
  };
  await draw();
  const timer = setInterval(draw, 1000);
  ctx.onLeave(() => clearInterval(timer));
}

async function loadQr(code, slot, ctx) {
  try {
    const { data } = await request(`/tickets/${encodeURIComponent(code)}/qr.svg`, { blob: true, signal: ctx.signal });
    const svg = data.type.includes("svg") ? data : new Blob([data], { type: "image/svg+xml" });
    slot.replaceChildren(showImage(slot, svg, `QR code of ticket ${code}`, ctx));
  } catch (err) {
    if (err.name === "AbortError") return;
    slot.replaceChildren(h("p", { class: "small muted", role: "note" }, `QR code unavailable: ${err.message}`));
  }
}
