// When the waiting room reads the fan's own status rather than the shared progress, and what it
// shows in between (frontend/js/views/room-progress.js; bench/drop/progress.py follows the same rule).
import assert from "node:assert/strict";
import { test } from "node:test";

const { movedOn, needsOwnStatus, placeEstimate, placeOf, wantsPlaceEstimate, withPlaceEstimate } = await import("../../../frontend/js/views/room-progress.js");

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

// A pre-queue fan's place, computed from the revealed draw: the same vectors as
// tests/unit/bench/test_progress.py, so the page and the simulated fans agree to the position.
const SALT = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const TOKEN = "AQEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWeJq83v";
const prequeue = { ...queued, position: null, aheadOfYou: null, etaSeconds: null };

test("a fan's expected place is its HMAC's share of the draw, and the earliest 4 sqrt(P) before it", () => {
  assert.deepEqual(placeEstimate("8" + "0".repeat(63), 101), [51, 10]);
  assert.deepEqual(placeEstimate("0".repeat(64), 1), [1, 1]);
  assert.deepEqual(placeEstimate("f".repeat(64), 10000), [9999, 9599]);
});

test("a drawn pre-queue fan computes its place once from the revealed salt and its own token", async () => {
  assert.equal(wantsPlaceEstimate(prequeue, progress), true);
  assert.equal(wantsPlaceEstimate(prequeue, { ...progress, drawn: false }), false);
  assert.equal(wantsPlaceEstimate(queued, progress), false);
  const mine = await withPlaceEstimate(prequeue, TOKEN, { salt: SALT, prequeue_size: 100000 });
  assert.deepEqual([mine.estimatedPosition, mine.earliestPosition], [46597, 45332]);
  assert.equal(wantsPlaceEstimate(mine, progress), false);
  const unrevealed = await withPlaceEstimate(prequeue, TOKEN, { salt: null, prequeue_size: null });
  assert.deepEqual([unrevealed.estimatedPosition, unrevealed.earliestPosition], [null, null]);
  assert.equal((await withPlaceEstimate(prequeue, TOKEN, null)).earliestPosition, null);
});

test("it reads its status only when the admissions reach its earliest place, and counts from the estimate until then", () => {
  const mine = { ...prequeue, estimatedPosition: 400, earliestPosition: 300 };
  assert.equal(needsOwnStatus(mine, { ...progress, admittedThrough: 299 }), false);
  assert.equal(needsOwnStatus(mine, { ...progress, admittedThrough: 300 }), true);
  assert.equal(needsOwnStatus({ ...prequeue, estimatedPosition: null, earliestPosition: null }, progress), true);
  const now = movedOn(mine, progress);
  assert.deepEqual([now.position, now.aheadOfYou, now.etaSeconds, now.total], [null, 379, 38, 80]);
  assert.equal(placeOf(now), 400);
  assert.equal(placeOf({ ...now, position: 377 }), 377);
});
