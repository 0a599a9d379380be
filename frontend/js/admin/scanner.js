// The door scanner: paste or type a QR payload, verify it, check it in. A scanner gun that
// types the payload and presses Enter verifies at once.
import { fill, h } from "../dom.js";
import { formatDate } from "../format.js";
import { announce, busyAction, field } from "../ui.js";
import { admin } from "./session.js";

const VERDICT = {
  valid: ["Valid ticket", "scan-valid", "Valid ticket. Not checked in yet."],
  checked_in: ["Already checked in", "scan-used", "Warning: this ticket was already checked in."],
  invalid_signature: ["Not a genuine ticket", "scan-bad", "Rejected: the signature does not match."],
  void: ["Void ticket", "scan-bad", "Rejected: this ticket is void."],
  // Refusals of a live (rotating) or printed code: the server's message says what to tell the fan.
  expired: ["Expired code", "scan-bad", "Rejected: expired code. Ask the fan to show the live ticket."],
  not_yet_valid: ["Code from the future", "scan-bad", "Rejected: the phone's clock is ahead."],
  static_refused: ["Printed code not accepted", "scan-bad", "Rejected: this event takes the live code only."],
  rotating_refused: ["Live code not accepted", "scan-bad", "Rejected: this event takes the printed code only."],
};

export function scannerView(root) {
  const payload = h("textarea", { id: "payload", name: "payload", rows: 3, spellcheck: "false", autocomplete: "off", class: "mono" });
  // Not a live region: the announcer says each verdict once (an error box is its own alert).
  const result = h("div", { id: "scan-result" });
  const verify = h("button", { class: "button", type: "submit", id: "verify" }, "Verify");
  const checkIn = h("button", { class: "button button-ok", type: "button", id: "check-in" }, "Check in");
  const form = h("form", { class: "card", novalidate: true },
    field("QR payload", payload, "Paste it, type it, or scan into this box. Enter verifies."),
    h("div", { class: "row" }, verify, checkIn,
      h("button", { class: "button button-secondary", type: "button", onclick: () => { payload.value = ""; result.replaceChildren(); payload.focus(); } }, "Clear")));
  const value = () => {
    const v = payload.value.trim();
    if (!v) throw new Error("Paste or type a QR payload first.");
    return v;
  };
  const show = (node, words) => {
    fill(result, node);
    announce(words, { urgent: true });
  };

  form.addEventListener("submit", busyAction(verify, async () => {
    const { data } = await admin("/admin/tickets/verify", { method: "POST", body: { payload: value() } });
    const [title, cls, words] = VERDICT[data.result] || [data.result, "scan-bad", data.result];
    show(verdict(title, cls, data, data.message), words);
  }, { errorSlot: result, errorTitle: "Verification failed" }));
  payload.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  checkIn.addEventListener("click", busyAction(checkIn, async () => {
    try {
      const { data } = await admin("/admin/tickets/check-in", { method: "POST", body: { payload: value() } });
      show(verdict("Checked in", "scan-valid", data), "Checked in. Let them in.");
    } catch (err) {
      // A refusal names its result (checked_in, void, invalid_signature, expired...): show it as a
      // verdict with the server's words for the fan.
      const refused = err.problem?.result;
      if (!refused || !VERDICT[refused]) throw err;
      const [title, cls, words] = VERDICT[refused];
      show(verdict(title, cls, err.problem, err.message), words);
    }
  }, { errorSlot: result, errorTitle: "Check-in failed" }));

  root.append(
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Ticket scanner"), h("p", { class: "muted" }, "Check the signature of a ticket, then check it in once."))),
    h("div", { class: "split" }, form, h("div", {}, result)));
  setTimeout(() => payload.focus(), 0);
}

function verdict(title, cls, data, detail) {
  const t = data?.ticket;
  return h("div", { class: ["scan-result", cls] },
    h("span", { class: "verdict" }, title),
    detail ? h("p", {}, detail) : null,
    data?.checked_in_at ? h("p", {}, `Checked in ${formatDate(data.checked_in_at, t?.event?.timezone)}`) : null,
    t ? h("p", { class: "small" }, [t.event?.name, t.tier?.name, t.seq ? `#${t.seq}` : null].filter(Boolean).join(" · ")) : null,
    t?.code ? h("p", { class: "mono small" }, t.code) : null);
}
