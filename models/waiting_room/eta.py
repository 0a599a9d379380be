"""Admission pace and honest ETAs.

The pace is measured from the recent waves: positions a wave could admit (its capacity: the wave
size, or less when stock limited it) and the seconds between waves. Before two waves exist the
configured wave size and interval stand in. The ETA counts whole waves, so it runs down like a
clock between waves and does not jump when a wave lands; a late wave freezes it (it never rises
because a tick is late), and it only rises when the measured pace really drops (stock held up).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import median

from models.waiting_room.store import Wave

#: Waves the measured pace looks back over.
PACE_WINDOW_WAVES = 12
#: A gap longer than this many usual intervals (a pause, a stall) counts as this many.
MAX_GAP_INTERVALS = 2.0


@dataclass(frozen=True)
class Pace:
    """Positions per wave and seconds between waves; ``measured`` False = configured values."""

    per_wave: float
    interval_s: float
    measured: bool

    @property
    def rate_per_s(self) -> float:
        return self.per_wave / self.interval_s if self.interval_s > 0 else 0.0


def measure_pace(waves: Sequence[Wave], wave_size: int, interval_s: float | None) -> Pace:
    """The pace over the last PACE_WINDOW_WAVES waves (oldest first in ``waves``). Gaps longer
    than MAX_GAP_INTERVALS times the usual one (the window's median, or the configured interval
    if shorter) are clipped: a pause is reported as the state, not as a slow admission rate."""
    fallback = Pace(float(max(1, wave_size)), interval_s or 1.0, False)
    recent = list(waves[-(PACE_WINDOW_WAVES + 1):])
    if len(recent) < 2:
        return fallback
    per_wave = sum(w.capacity for w in recent[1:]) / (len(recent) - 1)
    gaps = [max(0.0, (b.admitted_at_ms - a.admitted_at_ms) / 1000.0) for a, b in pairwise(recent)]
    usual = median(gaps) if interval_s is None else min(median(gaps), interval_s)
    measured_interval = sum(min(g, MAX_GAP_INTERVALS * usual) for g in gaps) / len(gaps)
    if per_wave <= 0 or measured_interval <= 0:
        return fallback
    return Pace(per_wave, measured_interval, True)


def eta_seconds(position: int, up_to: int, pace: Pace, now_ms: int, next_wave_ms: int) -> int:
    """Seconds until ``position`` is admitted: the wait for the next wave plus one interval for
    every further wave needed. ``next_wave_ms`` is when the next wave is expected (on-sale for
    the first one); in the past means "any moment now"."""
    remaining = position - up_to
    if remaining <= 0:
        return 0
    waves_needed = math.ceil(remaining / pace.per_wave)
    until_ms = next_wave_ms - now_ms  # a comparison, not max(): this runs on every queued fan's poll
    until_next_s = until_ms / 1000.0 if until_ms > 0 else 0.0
    return int(round(until_next_s + (waves_needed - 1) * pace.interval_s))


def next_wave_ms(last_wave: Wave | None, pace: Pace, on_sale_ms: int) -> int:
    """When the next wave is expected: one measured interval after the last, or at on-sale."""
    if last_wave is None:
        return on_sale_ms
    return last_wave.admitted_at_ms + int(pace.interval_s * 1000)
