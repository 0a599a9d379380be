// The waiting room polls the room's shared progress document, the same for every fan (an edge
// cache answers it), and asks for the fan's own status only when that may have changed: at the
// start, when the pre-queue has been drawn, when the progress reaches the fan's place, and while
// admitted. A change of state (on-sale, pause, resume, sold out) is read from the progress, so it
// sends no crowd of status reads to the server. bench/drop/progress.py simulates fans by the
// same rule.

/**
 * Whether a fan whose last status is `status` must read it again, given the room's `progress`:
 * while admitted (the fan's own clock), once the draw gave a pre-queue fan its place, and once
 * the admissions reach its place, and once the room was rebuilt (`roomGeneration`). Nothing else in a queued fan's status is its own: the state
 * (opening, pause, resume, sold out), the place ahead and the ETA follow from the progress.
 */
export function needsOwnStatus(status, progress) {
  if (!status || status.admission !== "queued") return true;
  // The room was rebuilt after a data loss: the fan's place may have changed or gone.
  if (status.roomGeneration !== progress.roomGeneration) return true;
  if (status.position === null || status.position === undefined) return Boolean(progress.drawn);
  return (progress.admittedThrough ?? 0) >= status.position;
}

/**
 * `status` as the server would tell it now that the room is at `progress`: the place ahead
 * from `admittedThrough`, the ETA from the measured pace (positions per minute).
 */
export function movedOn(status, progress) {
  const position = status.position ?? null;
  const through = progress.admittedThrough ?? 0;
  const out = { ...status, state: progress.state, total: Math.max(progress.total ?? 0, position ?? 0) };
  if (position !== null) {
    const perSecond = (progress.positionsPerMinute ?? 0) / 60;
    out.aheadOfYou = Math.max(0, position - through - 1);
    out.etaSeconds = perSecond > 0 ? Math.ceil((position - through) / perSecond) : null;
  }
  return out;
}
