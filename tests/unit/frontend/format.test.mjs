// The pure pieces of the pages, run by node's test runner (tests/unit/frontend/test_node.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { formatDate, fromZonedInput, knownZone, toZonedInput } from "../../../frontend/js/format.js";
import { gridSteps, label } from "../../../frontend/js/admin/chart.js";

test("an event time is shown on the venue's clock with the zone named", () => {
  assert.match(formatDate("2026-12-13T03:00:00Z", "America/Los_Angeles"), /Dec 12, 2026.*07:00 PM PST$/);
  assert.match(formatDate("2026-07-01T18:00:00Z", "Europe/Berlin"), /Jul 1, 2026.*08:00 PM GMT\+2$/);
});

test("a zone the browser does not know falls back to UTC, named", () => {
  assert.equal(knownZone("Mars/Olympus_Mons"), "UTC");
  assert.match(formatDate("2026-12-13T03:00:00Z", "Mars/Olympus_Mons"), /03:00 AM UTC$/);
});

test("venue wall time and UTC convert both ways, across daylight saving", () => {
  assert.equal(fromZonedInput("2026-12-12T19:00:00", "America/Los_Angeles"), "2026-12-13T03:00:00.000Z");
  assert.equal(fromZonedInput("2026-07-12T19:00", "America/Los_Angeles"), "2026-07-13T02:00:00.000Z");
  assert.equal(fromZonedInput("2026-07-01T12:00", "Asia/Kolkata"), "2026-07-01T06:30:00.000Z");
  assert.equal(toZonedInput("2026-07-13T02:00:00Z", "America/Los_Angeles"), "2026-07-12T19:00:00");
  // The repeated hour of a fall-back night resolves to one of its two instants.
  assert.ok(["2026-11-01T05:30:00.000Z", "2026-11-01T06:30:00.000Z"].includes(fromZonedInput("2026-11-01T01:30", "America/New_York")));
  assert.equal(fromZonedInput("not a time", "UTC"), null);
});

test("chart grid labels keep two decimals and counts never get fractional steps", () => {
  assert.deepEqual([0.25, 0.75, 2.5, 3, 1500, 12000].map(label), ["0.25", "0.75", "2.5", "3", "1.5k", "12k"]);
  assert.equal(gridSteps(1, true), 1);
  assert.equal(gridSteps(2, true), 2);
  assert.equal(gridSteps(10, true), 5);
  assert.equal(gridSteps(1, false), 4);
});
