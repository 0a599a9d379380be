"""Units of work the stores did in a measured window: SQL statements, transactions, Redis commands.

- SQL statements: the ``ticketdrop_sql_statements_total`` counter every process keeps at the
  driver (models.sqlcount), read from the prometheus-client multiprocess files, by process role
  and statement kind. (This PostgreSQL server has no pg_stat_statements: it is not in
  shared_preload_libraries, and restarting the shared server to add it is not ours to do.)
- Transactions: ``pg_stat_database`` commits + rollbacks of the run's database, counted by the
  server (every statement outside BEGIN..COMMIT is a transaction of its own).
- Redis commands: ``INFO commandstats`` of the run's own redis-server (it also carries the
  Dramatiq broker), minus the INFO calls that read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

#: name of the driver-level statement counter (models.metrics.SQL_STATEMENTS)
SQL_COUNTER = "ticketdrop_sql_statements_total"


def commandstats_calls(info: Mapping[str, object]) -> dict[str, int]:
    """``{command: calls}`` from redis-py's parsed ``INFO commandstats``.

    redis-py gives ``{"cmdstat_get": {"calls": 3, ...}}``; raw text parsing gives
    ``{"cmdstat_get": "calls=3,usec=..."}``; both are accepted.
    """
    out: dict[str, int] = {}
    for key, value in info.items():
        if not key.startswith("cmdstat_"):
            continue
        if isinstance(value, Mapping):
            calls = int(value.get("calls", 0))
        else:
            fields = dict(part.split("=", 1) for part in str(value).split(",") if "=" in part)
            calls = int(fields.get("calls", 0))
        out[key[len("cmdstat_"):]] = calls
    return out


def delta(before: Mapping[str, float], after: Mapping[str, float], *, ignore: Mapping[str, float] | None = None) -> dict[str, float]:
    """``after - before`` per key (keys only in ``after`` count from 0), minus ``ignore``; keys
    whose difference is 0 are left out."""
    out = {}
    for key, value in after.items():
        d = value - before.get(key, 0) - (ignore or {}).get(key, 0)
        if d:
            out[key] = d
    return out


def sql_statements(metrics_dir: Path, role_of_pid: Callable[[int], str]) -> dict[tuple[str, str], float]:
    """``{(role, kind): statements}`` summed over every process file in ``metrics_dir``.

    ``role_of_pid`` names the process that wrote ``counter_<pid>.db`` ("web", "worker"...).
    """
    from prometheus_client.multiprocess import MultiProcessCollector

    out: dict[tuple[str, str], float] = {}
    for path in sorted(metrics_dir.glob("counter_*.db")):
        try:
            pid = int(path.stem.split("_", 1)[1])
        except ValueError:
            continue
        role = role_of_pid(pid)
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            if metric.name + "_total" != SQL_COUNTER and metric.name != SQL_COUNTER:
                continue
            for sample in metric.samples:
                if sample.name == SQL_COUNTER:
                    key = (role, sample.labels.get("kind", "other"))
                    out[key] = out.get(key, 0.0) + sample.value
    return out


def by_role(counts: Mapping[tuple[str, str], float]) -> dict[str, float]:
    """Sum ``{(role, kind): n}`` per role."""
    out: dict[str, float] = {}
    for (role, _), n in counts.items():
        out[role] = out.get(role, 0.0) + n
    return out


def by_kind(counts: Mapping[tuple[str, str], float]) -> dict[str, float]:
    """Sum ``{(role, kind): n}`` per statement kind."""
    out: dict[str, float] = {}
    for (_, kind), n in counts.items():
        out[kind] = out.get(kind, 0.0) + n
    return out
