// The fairness proof. Before the sale the server publishes a commitment to a secret salt; at
// on-sale it reveals the salt and the list of HMAC-SHA256(salt, token) of everyone in the
// pre-queue, sorted: that order is the line. Here the fan's browser recomputes its own HMAC
// with WebCrypto, finds it in the published list, and checks the salt against the commitment.
import { get } from "../api.js";
import { fill, h } from "../dom.js";
import { formatDate, plural } from "../format.js";
import { hasWebCrypto, hexToBytes, hmacSha256, sha256 } from "../crypto.js";
import { roomToken } from "../identity.js";
import { errorBox, loadOr, notice, spinner } from "../ui.js";
import { cachedEvent, crumbs } from "./common.js";

const PAGE = 1000;

export async function fairnessView(root, ctx) {
  const [eventId] = ctx.params;
  const base = `/events/${encodeURIComponent(eventId)}/waiting-room`;
  root.append(spinner("Loading the fairness record"));
  const loaded = await loadOr(() => Promise.all([cachedEvent(eventId, { signal: ctx.signal }), get(`${base}/fairness`, { signal: ctx.signal })]),
    (err) => fill(root, h("h1", {}, "Fairness proof"), errorBox(err, { title: "We could not load the fairness record" })));
  if (loaded === undefined) return;
  const [event, record] = loaded;
  // The verdict is one sentence in a live region; the evidence (64-character hex strings)
  // sits outside it, to be read at the fan's own pace.
  const verdict = h("p", { id: "verdict", class: "lead", "aria-live": "polite" });
  const result = h("div", { id: "proof" });
  fill(root,
    crumbs(["Events", "#/"], [event.name, `#/events/${event.id}`], ["Waiting room", `#/events/${event.id}/room`], ["Fairness"]),
    h("h1", {}, "Fairness proof"),
    h("p", { class: "muted" }, "Fans who join before the sale opens are put in a random order nobody can pick, not even us. Here is the evidence, checked by your own browser."),
    h("section", { class: "card stack", "aria-labelledby": "rec-h" },
      h("h2", { id: "rec-h" }, "What was published"),
      h("dl", { class: "proof-list" },
        row("Commitment (published before the sale)", h("code", { id: "commitment" }, record.commitment || "–")),
        row("Salt (revealed at on-sale)", record.salt ? h("code", { id: "salt" }, record.salt) : h("span", {}, "Not revealed yet: it is published when the sale opens.")),
        row("Revealed at", record.revealed_at ? formatDate(record.revealed_at, event.timezone) : "–"),
        row("Fans in the pre-queue", record.prequeue_size != null ? String(record.prequeue_size) : "–"),
        row("Algorithm", h("span", { id: "algorithm" }, record.algorithm || "HMAC-SHA256(salt, token), sorted")))),
    h("section", { class: "card", "aria-labelledby": "you-h" }, h("h2", { id: "you-h" }, "Your place"), verdict, result));
  verify(record, eventId, base, result, verdict, ctx);
}

const row = (label, value) => h("div", { class: "proof-row" }, h("dt", {}, label), h("dd", {}, value));

/** The verdict, said first: "Your place #9 matches the commitment and the waiting room." */
function verdictWords(found, claimed, commitmentOk) {
  if (commitmentOk === false) return "Warning: the revealed salt does not match the commitment published before the sale.";
  if (!found) return "You joined after the sale opened, so you were not in the draw: your place is your arrival order.";
  const salt = commitmentOk ? " The salt matches the commitment." : "";
  if (claimed != null && claimed !== found.position) {
    return `Warning: your recomputed place #${found.position} differs from the waiting room's #${claimed}.${salt} Please report this.`;
  }
  return `Your place #${found.position} of ${found.total.toLocaleString()} is confirmed.${salt}${claimed != null ? " It matches the waiting room." : ""}`;
}

async function verify(record, eventId, base, slot, verdict, ctx) {
  const token = roomToken(eventId);
  if (!token) return fill(slot, h("p", {}, "You have not joined this waiting room from this browser, so there is no place to check."));
  if (!record.salt) return fill(slot, h("p", {}, "The salt is revealed when the sale opens; come back then to check your place."));
  if (!hasWebCrypto()) return fill(slot, notice("warn", "Your browser cannot check this here", h("p", {}, "Checking needs WebCrypto, which browsers only offer over https or on localhost.")));
  fill(slot, h("p", { class: "muted" }, spinner(), " Recomputing your position…"));

  // As the record's `algorithm` says: the key is the salt's bytes (hex-decoded), the message the token.
  const key = hexToBytes(record.salt);
  if (!key) return fill(slot, notice("error", "The published salt is not hexadecimal", h("p", {}, "It cannot be checked.")));
  const mine = await hmacSha256(key, token);
  const commitmentOk = record.commitment ? (await sha256(key)) === record.commitment.toLowerCase() : null;
  const found = await findInList(base, mine, ctx);
  let claimed = null;
  try {
    claimed = (await get(`${base}/status?token=${encodeURIComponent(token)}`, { signal: ctx.signal })).position;
  } catch { /* the recomputed position stands on its own */ }

  const lines = [
    commitmentOk === null ? null : commitmentOk
      ? notice("ok", "The salt matches the commitment", h("p", {}, "SHA-256 of the revealed salt equals the commitment published before the sale, so the salt was fixed in advance."))
      : notice("warn", "We could not match the salt to the commitment here", h("p", {}, "Compare them with the algorithm above.")),
  ];
  if (!found) {
    lines.push(notice("info", "You are not in the pre-queue draw", h("p", {}, "You joined after the sale opened, so your place is your arrival order.")));
  } else {
    const agrees = claimed == null || claimed === found.position;
    lines.push(notice(agrees ? "ok" : "error", `Recomputed position: #${found.position} of ${plural(found.total, "fan")}`,
      h("p", { id: "recomputed" }, claimed == null ? "" : agrees
        ? `It matches the position the waiting room gives you (#${claimed}).`
        : `The waiting room says #${claimed}: they differ. Please report this.`)));
  }
  lines.push(h("p", {}, "Your HMAC, computed in this browser: ", h("code", { id: "my-hmac" }, mine)));
  verdict.textContent = verdictWords(found, claimed, commitmentOk);
  fill(slot, ...lines);
}

async function findInList(base, mine, ctx) {
  for (let offset = 0; ; offset += PAGE) {
    const page = await get(`${base}/fairness/hmacs?offset=${offset}&limit=${PAGE}`, { signal: ctx.signal });
    const list = page.hmacs || [];
    const index = list.findIndex((x) => String(x).toLowerCase() === mine);
    if (index >= 0) return { position: offset + index + 1, total: page.total, hmac: list[index] };
    if (!list.length || offset + list.length >= page.total) return null;
  }
}
