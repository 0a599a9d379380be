"""Queue statistics for operators (admin status, metrics)."""

from __future__ import annotations

from typing import Any

from models.keys import Keys
from models.waiting_room import eta, store


def queue_stats(redis: Any, keys: Keys, event_id: str, *, wave_size: int = 1, wave_interval_s: float | None = None) -> dict[str, Any]:
    """The event's queue in numbers (sync, two Redis reads). ``admission_rate_per_s`` is the
    measured pace (None before two waves): positions admitted per second.

    Returns total, waiting, admitted, expired, used, admitted_up_to, prequeue_size,
    prequeue_drawn, admission_rate_per_s.
    """
    event_id = str(event_id)
    counters = store.read_counters(redis, keys, event_id)
    pace = eta.measure_pace(store.recent_waves(redis, keys, event_id, eta.PACE_WINDOW_WAVES + 1), wave_size, wave_interval_s)
    return {
        "total": counters.total,
        "waiting": counters.total - counters.up_to,
        "admitted": counters.up_to,
        "expired": counters.expired,
        "used": counters.used,
        "admitted_up_to": counters.up_to,
        "prequeue_size": counters.pre,
        "prequeue_drawn": counters.opened,
        "admission_rate_per_s": round(pace.rate_per_s, 3) if pace.measured else None,
    }
