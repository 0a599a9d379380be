"""Turns the raw samples of a drop into the figures of the report (pure functions)."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable

from bench.drop.client import Recorder
from bench.drop.servertimes import late_share
from bench.loadgen import percentile

#: Endpoints in the order the report lists them.
ENDPOINT_ORDER = ("join", "status", "progress", "availability", "reserve", "reservation_poll", "checkout_session", "confirm",
                  "session_poll", "tickets", "admin_status", "admin")


def latency_table(recorder: Recorder, start: float = float("-inf"), end: float = float("inf")) -> dict[str, dict]:
    """Per endpoint, for requests started in [start, end): count, p50/p95/p99/max (ms), errors."""
    table = {}
    names = sorted(recorder.endpoints, key=lambda n: ENDPOINT_ORDER.index(n) if n in ENDPOINT_ORDER else 99)
    for name in names:
        s = recorder.endpoints[name]
        ms, statuses = [], Counter()
        for t, latency, status in zip(s.t, s.ms, s.status, strict=True):
            if start <= t < end:
                ms.append(latency)
                statuses[status] += 1
        if not ms:
            continue
        ms.sort()
        table[name] = {
            "count": len(ms), "p50": round(percentile(ms, 50), 2), "p95": round(percentile(ms, 95), 2),
            "p99": round(percentile(ms, 99), 2), "max": round(ms[-1], 2),
            "errors": sum(n for code, n in statuses.items() if code == 0 or code >= 500),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
        }
    return table


def between(values_ms: Iterable[float], times: Iterable[float], start: float, end: float) -> dict[str, float]:
    """``{"count", "p50", "p99", "max"}`` (ms) of the values whose time falls in [start, end)."""
    ms = sorted(v for v, t in zip(values_ms, times, strict=True) if start <= t < end)
    return {"count": len(ms), "p50": round(percentile(ms, 50), 1) if ms else 0.0,
            "p99": round(percentile(ms, 99), 1) if ms else 0.0, "max": round(ms[-1], 1) if ms else 0.0}


def loop_lag(lag_ms: Iterable[float], times: Iterable[float], start: float, end: float) -> dict:
    """An event loop's lag between ``start`` and ``end`` from its timers' samples (web.looplag):
    per timer (:func:`between`) and the share of the time it was late (servertimes.late_share)."""
    lags = [(ms, t) for ms, t in zip(lag_ms, times, strict=True) if start <= t < end]
    figures = between([ms for ms, _ in lags], [t for _, t in lags], start, end)
    share = late_share(sum(ms for ms, _ in lags) / 1000.0, figures["count"])
    return {**figures, "late_share": None if share is None else round(share, 3)}


def _count_between(values: Iterable[float], start: float, end: float) -> int:
    return sum(1 for v in values if start <= v < end)


def requests_between(recorder: Recorder, start: float, end: float) -> int:
    """Requests the simulator started in [start, end), every endpoint."""
    return sum(_count_between(s.t, start, end) for s in recorder.endpoints.values())


def phase_table(recorder: Recorder, phases: list[tuple[str, float, float]], baseline_rps: float) -> list[dict]:
    """Throughput per phase (joins/s, polls/s, reservation outcomes/s, checkouts/s, all requests/s),
    each also as a ratio to the trivial-handler baseline."""
    rows = []
    ok_joins = _ok_times(recorder, "join")
    polls = recorder.endpoints["status"].t if "status" in recorder.endpoints else array("d")
    decided = [*recorder.marks.get("held", []), *recorder.marks.get("rejected", [])]
    checkouts = [*recorder.marks.get("paid", []), *recorder.marks.get("payment_failed", [])]
    all_requests = [t for s in recorder.endpoints.values() for t in s.t]
    for name, start, end in phases:
        duration = max(end - start, 1e-9)
        rates = {
            "joins_per_s": _count_between(ok_joins, start, end) / duration,
            "polls_per_s": _count_between(polls, start, end) / duration,
            "reservation_outcomes_per_s": _count_between(decided, start, end) / duration,
            "checkouts_per_s": _count_between(checkouts, start, end) / duration,
            "requests_per_s": _count_between(all_requests, start, end) / duration,
        }
        row = {"phase": name, "start_s": round(start, 2), "duration_s": round(duration, 2)}
        for key, value in rates.items():
            row[key] = round(value, 1)
            row[key.replace("_per_s", "_ratio")] = round(value / baseline_rps, 4) if baseline_rps else None
        rows.append(row)
    return rows


def _ok_times(recorder: Recorder, endpoint: str) -> list[float]:
    s = recorder.endpoints.get(endpoint)
    if s is None:
        return []
    return [t for t, status in zip(s.t, s.status, strict=True) if 200 <= status < 300]


def per_second(values: Iterable[float], end: float) -> list[int]:
    """Counts per whole second from 0 to ``end``."""
    buckets = [0] * (int(end) + 1)
    for v in values:
        i = int(v)
        if 0 <= i < len(buckets):
            buckets[i] += 1
    return buckets


def first_time(samples: list[tuple[float, dict, dict]], key: str, predicate, after: float = 0.0) -> float | None:
    """Time of the first monitor sample at or after ``after`` whose ``key`` satisfies ``predicate``."""
    for t, status, _ in samples:
        if t >= after and key in status and predicate(status[key]):
            return t
    return None


def first_mark_after(recorder: Recorder, names: Iterable[str], after: float) -> float | None:
    """The earliest of the named marks at or after ``after``."""
    times = [t for name in names for t in recorder.marks.get(name, []) if t >= after]
    return min(times) if times else None
