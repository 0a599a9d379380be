// When the waiting room reads the fan's own status rather than the shared progress, and what it
// shows in between (frontend/js/views/room-progress.js; bench/drop/progress.py follows the same rule).
import assert from "node:assert/strict";
import { test } from "node:test";

const { movedOn, needsOwnStatus } = await import("../../../frontend/js/views/room-progress.js");

const queued = { state: "sale_open", position: 50, admission: "queued", aheadOfYou: 39, total: 60, etaSeconds: 9, canEnter: false };
const progress = { state: "sale_open", total: 80, drawn: true, admittedThrough: 20, positionsPerMinute: 600 };

test("a queued fan keeps to the progress until it reaches their place", () => {
  assert.equal(needsOwnStatus(queued, progress), false);
  assert.equal(needsOwnStatus(queued, { ...progress, admittedThrough: 49 }), false);
  assert.equal(needsOwnStatus(queued, { ...progress, admittedThrough: 50 }), true);
});

test("the first poll, an admission and the draw read the fan's own status; a change of state does not", () => {
  assert.equal(needsOwnStatus(null, progress), true);
  assert.equal(needsOwnStatus({ ...queued, admission: "admitted" }, progress), true);
  assert.equal(needsOwnStatus(queued, { ...progress, state: "paused" }), false);
  assert.equal(needsOwnStatus(queued, { ...progress, state: "sold_out" }), false);
  const prequeue = { ...queued, state: "waiting", position: null };
  assert.equal(needsOwnStatus(prequeue, { ...progress, state: "sale_open", drawn: false }), false);
  assert.equal(needsOwnStatus(prequeue, { ...progress, state: "sale_open", drawn: true }), true);
});

test("a room rebuilt after a data loss sends the fan to their own status", () => {
  assert.equal(needsOwnStatus({ ...queued, roomGeneration: 1 }, { ...progress, roomGeneration: 1 }), false);
  assert.equal(needsOwnStatus({ ...queued, roomGeneration: 1 }, { ...progress, roomGeneration: 2 }), true);
});

test("between status reads the place ahead and the wait follow the progress", () => {
  const now = movedOn(queued, progress);
  assert.deepEqual([now.aheadOfYou, now.total, now.etaSeconds], [29, 80, 3]); // 30 places at 10 a second
  assert.deepEqual([now.position, now.admission, now.canEnter], [50, "queued", false]);
  assert.equal(movedOn(queued, { ...progress, positionsPerMinute: 0 }).etaSeconds, null);
  const prequeue = movedOn({ ...queued, state: "waiting", position: null, aheadOfYou: null }, { ...progress, state: "waiting", total: 7 });
  assert.deepEqual([prequeue.aheadOfYou, prequeue.total], [null, 7]);
  assert.equal(movedOn(queued, { ...progress, state: "paused" }).state, "paused");
});
