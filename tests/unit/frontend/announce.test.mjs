// What the pages say and when: the time-limit warnings, the spoken durations, the queue's
// meaningful moves. A few browser globals are stubbed; announce() writes into a fake region.
import assert from "node:assert/strict";
import { test } from "node:test";

const said = [];
const region = (urgent) => ({ append: (line) => said.push([line.text, urgent]) });
globalThis.navigator = { onLine: true };
globalThis.window = { addEventListener() {} };
globalThis.document = {
  getElementById: (id) => (id === "announce" ? region(false) : id === "announce-urgent" ? region(true) : null),
  createElement: () => {
    const el = { text: "", setAttribute() {}, append(...kids) { el.text += kids.map((k) => k.text ?? "").join(""); }, remove() {} };
    return el;
  },
  createTextNode: (text) => ({ text }),
};
globalThis.Node = function Node() {};
// Said lines are tidied away after 20 s; here they never are (nor keep node waiting for it).
globalThis.setTimeout = () => 0;
const { countdownWarnings, spokenDuration } = await import("../../../frontend/js/ui.js");
const { meaningfulMove } = await import("../../../frontend/js/views/room-phases.js");

test("each time-limit warning is said once, the last one urgently", () => {
  said.length = 0;
  const warn = countdownWarnings(60, 30);
  for (const secs of [180, 90, 60, 59.5, 45, 30, 29, 10, 0]) warn(secs, (t) => `${spokenDuration(t)} left to pay.`);
  assert.deepEqual(said, [["1 minute left to pay.", false], ["30 seconds left to pay.", true]]);
});

test("a page opened with less time left than a warning does not repeat what its start said", () => {
  // The page said "You have 50 seconds to pay." as it opened: no "1 minute left" after it.
  said.length = 0;
  const warn = countdownWarnings(60, 30);
  for (const secs of [50, 49, 40, 31]) warn(secs, (t) => `${t}`);
  assert.deepEqual(said, []);
  warn(30, (t) => `${t}`);
  assert.deepEqual(said, [["30", true]]);
});

test("after a pause in ticking only the nearest warning is said", () => {
  said.length = 0;
  const warn = countdownWarnings(60, 30);
  warn(170, (t) => `${t}`);
  warn(20, (t) => `${t}`);
  warn(19, (t) => `${t}`);
  assert.deepEqual(said, [["30", true]]);
});

test("time limits are spoken in words a screen reader reads well", () => {
  assert.deepEqual([180, 600, 60, 90, 30, 1, 7200, 259200].map(spokenDuration),
    ["3 minutes", "10 minutes", "1 minute", "90 seconds", "30 seconds", "1 second", "2 hours", "3 days"]);
});

test("a move in line is worth saying once a quarter of the fans ahead have gone, or on entering the last ten", () => {
  assert.equal(meaningfulMove(400, 390), false);
  assert.equal(meaningfulMove(400, 300), true);
  assert.equal(meaningfulMove(12, 10), true);
  assert.equal(meaningfulMove(8, 7), false);
  assert.equal(meaningfulMove(8, 6), true);
  assert.equal(meaningfulMove(5, 5), false);
  assert.equal(meaningfulMove(null, 5), false);
});
