// What the waiting room shows in each phase. Each phase builds its nodes once and then
// updates numbers in place, so screen readers hear a change of state, not every poll.
// A phase has an `announcement` (said when it appears without taking focus) and a `detail`
// (said when focus moves to its heading, which already names the change).
import { h } from "../dom.js";
import { formatClock, formatEta, plural, secondsUntil } from "../format.js";
import { icon } from "../icons.js";
import { announce, countdownClock, progressBar, spokenDuration } from "../ui.js";
import { reserveForm } from "./reserve.js";
import { placeOf } from "./room-progress.js";

/** The phase a status document puts the fan in. */
export function phaseOf(s) {
  if (s.state === "closed") return "closed";
  if (s.state === "sold_out") return "soldout";
  if (s.admission === "expired") return "expired";
  if (s.state === "paused") return "paused";
  if (s.admission === "admitted" || s.canEnter) return "admitted";
  if (s.state === "waiting") return "countdown";
  return "queued";
}

const head = (iconName, title) => [h("div", { class: "phase-icon" }, icon(iconName, 26)), h("h2", { id: "phase-h", tabindex: -1 }, title)];

function stat(label) {
  const value = h("div", { class: "value" }, "–");
  const el = h("div", { class: "stat" }, h("div", { class: "label" }, label), value);
  el.set = (text) => { value.textContent = text; };
  return el;
}

const num = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString());

/**
 * A queue move worth saying, in fans ahead: a quarter of them gone since the last update, or
 * into the last ten. (A fan's number in line never changes; the fans ahead of them do.)
 */
export function meaningfulMove(said, now) {
  if (!said || !now || now >= said) return false;
  return now <= Math.floor(said * 0.75) || (said > 10 && now <= 10);
}
/** The shortest gap between two spoken place updates, in ms (waves can move the line every second). */
const PLACE_UPDATE_GAP_MS = 20_000;

const estimated = (s) => (s?.position ?? null) === null && placeOf(s) !== null;

const placeWords = (s) => {
  const eta = formatEta(s.etaSeconds);
  const ahead = s.aheadOfYou === null || s.aheadOfYou === undefined ? "" : `, with ${plural(s.aheadOfYou, "fan")} ahead of you`;
  return `You are ${estimated(s) ? "about " : ""}number ${num(placeOf(s))} in line${ahead}.${eta ? ` Estimated wait: ${eta}.` : ""}`;
};

function countdown({ status }) {
  const clock = h("div", { class: "big-clock", id: "onsale-clock", role: "timer", "aria-label": "Time until the sale opens" }, "--:--");
  const waiting = stat("Fans waiting");
  return {
    nodes: [...head("clock", "The sale opens soon"), clock,
      h("p", {}, "You are in the pre-queue. When the sale opens, everyone who joined before then is given a random place in line, so there is no advantage in refreshing or joining twice."),
      h("div", { class: "stats" }, waiting)],
    announcement: `You are in the pre-queue. The sale opens in ${spokenDuration(status?.secondsUntilOnSale ?? 0)}.`,
    // The room's counters may lag the fan's own join by a moment: never show fewer than one.
    update: (s) => waiting.set(num(Math.max(s.total ?? 0, 1))),
    tick: (s) => {
      const secs = secondsUntil(s.onSaleAt) ?? s.secondsUntilOnSale ?? 0;
      // At zero the server draws the line; the next poll moves this page on.
      clock.textContent = secs > 0 ? formatClock(secs) : "Opening…";
    },
  };
}

function queued({ status }) {
  const position = h("span", { id: "position" }, "–");
  const bar = progressBar("Progress through the line");
  const ahead = stat("Ahead of you");
  const total = stat("In line");
  const eta = stat("Estimated wait");
  let said = status?.aheadOfYou;
  let saidAt = Date.now();
  return {
    nodes: [...head("queue", "You are in line"),
      h("p", { class: "big-clock" }, "#", position),
      bar,
      h("div", { class: "stats" }, ahead, total, eta),
      h("p", { class: "muted" }, "Keep this page open. When your turn comes, this page changes by itself and you get a few minutes to pick your tickets.")],
    announcement: `The sale is open. ${placeWords(status)}`,
    detail: placeWords(status),
    focus: true,
    update: (s) => {
      if (said === null || said === undefined) said = s.aheadOfYou;
      if (meaningfulMove(said, s.aheadOfYou) && Date.now() - saidAt >= PLACE_UPDATE_GAP_MS) {
        said = s.aheadOfYou;
        saidAt = Date.now();
        announce(placeWords(s));
      }
      position.textContent = `${estimated(s) ? "≈" : ""}${num(placeOf(s))}`;
      ahead.set(num(s.aheadOfYou));
      total.set(num(Math.max(s.total ?? 0, s.position ?? 0)));
      eta.set(formatEta(s.etaSeconds) ?? "–");
      const p = placeOf(s) || 0;
      bar.set(p <= 1 ? 100 : ((p - 1 - (s.aheadOfYou ?? p - 1)) / (p - 1)) * 100);
    },
  };
}

function admitted({ event, token, ctx, status }) {
  const left = h("strong", { id: "admission-left", class: "mono" }, "--:--");
  const form = reserveForm({ event, token, ctx });
  const showLeft = countdownClock(left, (t) => `${spokenDuration(t)} left to reserve your tickets.`);
  const limit = `You have ${spokenDuration(secondsUntil(status?.admissionExpiresAt) ?? 0)} to choose your tickets.`;
  return {
    nodes: [...head("check", "It's your turn!"),
      h("p", { class: "lead" }, "Pick your tickets now. Time left to reserve: ", left),
      form.node],
    announcement: `It's your turn! ${limit}`,
    detail: limit,
    focus: true,
    interval: 4000,
    update: () => {},
    tick: (s) => showLeft(s.admissionExpiresAt),
    destroy: form.destroy,
  };
}

function simple(iconName, title, text, announcement, interval, detail) {
  return () => ({
    nodes: [...head(iconName, title), h("p", {}, ...text())],
    announcement,
    detail,
    focus: true,
    interval,
    update: () => {},
  });
}

export const PHASES = {
  countdown,
  queued,
  admitted,
  paused: simple("pause", "The sale is paused", () => ["The organiser has paused the sale for a moment. Your place in line is kept and this page resumes by itself."], "The sale is paused. Your place is kept.", 3000, "Your place is kept."),
  expired: simple("hourglass", "Your turn has expired", () => ["You were let in but did not reserve in time, so your turn went to the next fans in line. ", h("a", { href: "#/" }, "See other events")], "Your turn to reserve has expired.", 15000, "Your turn went to the next fans in line."),
  soldout: simple("cross", "Sold out", () => ["Every ticket is sold or held. Held tickets that are not paid for go back on sale, so keep this page open if you like."], "The event is sold out.", 10000, "Held tickets that are not paid for go back on sale."),
  closed: simple("cross", "The sale has ended", () => ["This sale is over. ", h("a", { href: "#/" }, "See other events")], "The sale has ended.", 30000),
};
