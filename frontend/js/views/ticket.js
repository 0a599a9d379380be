// One ticket as a card, with the server's QR code. The SVG is fetched with X-User-Id (only the
// owner may see it) and shown through a blob: URL in an <img>, which never runs scripts.
import { request } from "../api.js";
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
    ticket.qr_payload ? h("details", {}, h("summary", {}, "Show the QR payload (for typing in at the door)"), h("p", { class: "mono qr-payload" }, ticket.qr_payload)) : null);
  loadQr(ticket.code, qr, ctx);
  return card;
}

async function loadQr(code, slot, ctx) {
  try {
    const { data } = await request(`/tickets/${encodeURIComponent(code)}/qr.svg`, { blob: true, signal: ctx.signal });
    const url = URL.createObjectURL(data.type.includes("svg") ? data : new Blob([data], { type: "image/svg+xml" }));
    ctx.onLeave(() => URL.revokeObjectURL(url));
    slot.replaceChildren(h("img", { src: url, alt: `QR code of ticket ${code}`, width: 124, height: 124 }));
  } catch (err) {
    if (err.name === "AbortError") return;
    slot.replaceChildren(h("p", { class: "small muted", role: "note" }, `QR code unavailable: ${err.message}`));
  }
}
