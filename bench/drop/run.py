"""One drop, start to finish: baseline, system, event, crowd, (faults), drain, invariants, report."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import os
import platform
import random
import secrets
import time
from array import array
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import baseline
from bench.drop import analysis, cputime, report, servertimes
from bench.drop.chaos import Chaos, ChaosPlan
from bench.drop.client import Api, Recorder
from bench.drop.event import TierSpec, create_event, default_tiers, open_sale
from bench.drop.fans import Crowd, Fan, Plan
from bench.drop.monitor import Monitor, redis_probe
from bench.drop.prober import DEFAULT_PROBES, Prober
from bench.drop.system import INTERRUPTED_GRACE_S, STOP_GRACE_S, System, SystemOptions
from bench.drop.verify import verify
from bench.loadgen import make_session
from models.keys import Keys
from models.redis import connect_async
from models.settings import VAR_DIR
from web import looplag

log = logging.getLogger("bench.drop")


@dataclass
class DropConfig:
    fans: int = 100_000
    #: Fans arriving after on-sale (default: a tenth of ``fans``), spread over ``late_window_s``.
    late_fans: int | None = None
    late_window_s: float = 20.0
    #: Pre-sale arrivals spread over this many seconds (0: all at once).
    join_window_s: float = 0.0
    tiers: list[TierSpec] | None = None
    #: Tickets on sale as a share of fans, when no tiers are given.
    capacity_share: float = 0.2
    web: int = 2
    workers: int = 2
    threads: int = 8
    wave_size: int | None = None
    wave_interval_s: float = 1.0
    hold_ttl_s: int = 60
    #: OFFER_TTL_S: how long a waitlist offer is held (None: the product's 600 s, which outlives a
    #: short run: offers still held at its end break "no tickets left held").
    offer_ttl_s: int | None = None
    #: ADMISSION_TTL_S: admitted fans who leave without reserving keep tickets out of the next
    #: waves until their admission lapses (default: twice the slowest poll, at least 60 s).
    admission_ttl_s: int | None = None
    sweep_interval_s: float = 2.0
    plan: Plan = field(default_factory=Plan)
    #: Simulator connections for fans' commands (reserve, pay...; a Prefer: wait holds one for
    #: seconds) and, separately, for status polls and for waitlisted fans' polls.
    connections: int = 256
    poll_connections: int = 128
    #: None: sized from the waitlist's expected poll rate (:func:`waitlist_connections`).
    waitlist_connections: int | None = None
    #: Simulated fans of the status prober, a process of its own (bench.drop.prober; 0: none).
    probes: int = DEFAULT_PROBES
    #: Hard limit for the whole crowd, in seconds; fans still busy then count as violations.
    deadline_s: float = 1800.0
    baseline_requests: int = 20_000
    #: Seconds between announcing the on-sale time and the sale opening (at least the slowest
    #: pre-sale poll interval, so every waiting page learns the new time before it comes).
    lead_s: float = 3.0
    chaos: ChaosPlan | None = None
    out: Path | None = None
    database_url: str | None = None
    postgres_url: str | None = "postgres://postgres@127.0.0.1:5432/postgres"
    redis_url: str | None = None
    broker_url: str | None = None
    keep_db: bool = False
    seed: int = 1
    command: str = "python -m bench.drop"

    def resolved(self) -> DropConfig:
        """Defaults that depend on the crowd size filled in."""
        late = self.fans // 10 if self.late_fans is None else self.late_fans
        wave = self.wave_size or max(50, self.fans // 100)
        tiers = self.tiers or default_tiers(int(self.fans * self.capacity_share))
        grace = self.hold_ttl_s + 3 * self.sweep_interval_s + 5
        plan = Plan(**{**asdict(self.plan), "nothing_left_grace_s": grace})
        lead = max(self.lead_s, self.plan.poll_max_s * 1.1 + 2)
        admission = self.admission_ttl_s or int(max(60, 2 * self.plan.poll_max_s))
        waitlist = self.waitlist_connections or waitlist_connections(self.fans + late, self.plan)
        return DropConfig(**{**self.__dict__, "late_fans": late, "wave_size": wave, "tiers": tiers, "plan": plan, "lead_s": lead,
                             "admission_ttl_s": admission, "waitlist_connections": waitlist})


#: How long one waitlisted fan's poll (``GET /me/waitlist``) is expected to hold a simulator
#: connection, in seconds, for sizing that pool: its median in the web tier in 20,000-fan drops
#: was 47-52 ms on the faster machine and 244-314 ms on the slower one (docs/drop-simulator.md).
WAITLIST_POLL_HOLD_S = 0.25
#: Bounds of the waitlist polls' pool. The floor is the old fixed size; at the cap the simulator
#: and each web process stay under a default 1,024 open files (with the other 384 connections),
#: and 512 connections at 0.25 s carry ~2,000 polls/s, a 20,000-fan drop's waitlist.
WAITLIST_CONNECTIONS_MIN, WAITLIST_CONNECTIONS_MAX = 32, 512


def waitlist_connections(fans: int, plan: Plan) -> int:
    """Connections for waitlisted fans' polls, from their expected rate (Little's law: rate x
    time each poll holds a connection): at most every one of ``fans`` is told "sold out",
    ``plan.waitlist_share`` of them join and poll every ``plan.waitlist_poll_s``. Too few and the
    fans wait inside the simulator, not in the server (32 for ~2,000 polls/s: p50 11.6 s)."""
    rate = fans * plan.waitlist_share / plan.waitlist_poll_s
    return min(WAITLIST_CONNECTIONS_MAX, max(WAITLIST_CONNECTIONS_MIN, math.ceil(rate * WAITLIST_POLL_HOLD_S)))


def _machine() -> dict:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(), "platform": platform.platform()}


async def run_drop(cfg: DropConfig, make_system=System) -> tuple[int, Path]:
    """Run one drop; returns (exit code: 0 when every invariant held, report path).

    ``make_system`` builds the system from its options (bench/drop/hosts.py: every process on its own host)."""
    cfg = cfg.resolved()
    run_id = datetime.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(3)
    run_dir = cfg.out or VAR_DIR / "drop" / f"{run_id}{'-chaos' if cfg.chaos else ''}"
    run_dir.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    log.info("measuring the baseline (trivial aiohttp handler, %d requests)", cfg.baseline_requests)
    base = await baseline.measure(cfg.baseline_requests, concurrency=64, repeats=3)
    log.info("baseline: %.0f requests/s", base.rps)
    system = make_system(SystemOptions(
        run_dir=run_dir, run_id=run_id, web_processes=cfg.web, worker_processes=cfg.workers, worker_threads=cfg.threads,
        database_url=cfg.database_url, postgres_url=cfg.postgres_url, redis_url=cfg.redis_url, broker_url=cfg.broker_url,
        settings_env={"WAVE_SIZE": str(cfg.wave_size), "WAVE_INTERVAL_S": str(cfg.wave_interval_s),
                      "HOLD_TTL_S": str(cfg.hold_ttl_s), "SWEEP_INTERVAL_S": str(cfg.sweep_interval_s),
                      "ADMISSION_TTL_S": str(cfg.admission_ttl_s), "DB_MAX_CONNECTIONS": "12", "DB_THREADS": "12",
                      **({"OFFER_TTL_S": str(cfg.offer_ttl_s)} if cfg.offer_ttl_s else {})},
    ))
    grace_s = STOP_GRACE_S
    try:
        log.info("starting the system in %s", run_dir)
        await _start(system)
        log.info("system healthy at %s (%s, %s)", system.base_url, system.database.kind, system.redis_url)
        results = await _drive(cfg, system, run_id)
        await asyncio.to_thread(system.stop_processes)
        results["invariants"] = await asyncio.to_thread(verify, system, results.pop("_fans"), results["event"]["id"])
        results["phases"] = analysis.phase_table(results.pop("_recorder"), results.pop("_phases"), base.rps)
    except asyncio.CancelledError:  # Ctrl-C (asyncio.run cancels us): no report, nothing to verify
        grace_s = INTERRUPTED_GRACE_S
        raise
    finally:
        await asyncio.to_thread(system.stop, keep_database=cfg.keep_db, grace_s=grace_s)
    results.update(mode="chaos" if cfg.chaos else "drop", command=cfg.command, started_at=started_at, machine=_machine(),
                   baseline=base.as_dict(), config=_config_dict(cfg, system))
    if hasattr(system, "describe"):
        results["hosts"], results["edge"] = system.describe(), system.edge
    path = report.write(results, run_dir)
    return (0 if results["invariants"]["passed"] else 1), path


async def _start(system: System) -> None:
    """``system.start()`` in a thread. Cancelled (Ctrl-C: ``asyncio.run`` cancels its task), it tells
    the start to give up and waits for its thread before re-raising: a thread cannot be cancelled,
    and one left running would start processes beside the caller's ``system.stop()``, then keep
    ``asyncio.run`` waiting for a health check that can no longer pass (up to STARTUP_TIMEOUT_S)."""
    starting = asyncio.ensure_future(asyncio.to_thread(system.start))
    try:
        await asyncio.shield(starting)
    except asyncio.CancelledError:
        system.stopping.set()
        with contextlib.suppress(Exception):  # "being stopped": the cancellation is the story
            await starting
        raise


def _config_dict(cfg: DropConfig, system: System) -> dict:
    return {
        "fans": cfg.fans, "late_fans": cfg.late_fans, "web": cfg.web, "workers": cfg.workers, "threads": cfg.threads,
        "wave_size": cfg.wave_size, "wave_interval_s": cfg.wave_interval_s, "hold_ttl_s": cfg.hold_ttl_s, "offer_ttl_s": cfg.offer_ttl_s,
        "admission_ttl_s": cfg.admission_ttl_s,
        "sweep_interval_s": cfg.sweep_interval_s, "poll_s": cfg.plan.poll_s, "poll_max_s": cfg.plan.poll_max_s,
        "fail_share": cfg.plan.fail_share, "abandon_share": cfg.plan.abandon_share,
        "waitlist_share": cfg.plan.waitlist_share, "waitlist_patience_s": cfg.plan.waitlist_patience_s, "connections": cfg.connections,
        "poll_connections": cfg.poll_connections, "waitlist_connections": cfg.waitlist_connections, "edge_cache": cfg.plan.edge_cache,
        "probes": cfg.probes,
        "database": system.database.kind if system.database else "?",
        "redis": getattr(system, "stores", None) or ("own redis-server (unix socket)" if system.owns_redis else "given Redis"),
        "chaos": asdict(cfg.chaos) if cfg.chaos else None,
    }


async def _drive(cfg: DropConfig, system: System, run_id: str) -> dict:
    """Create the event, run the crowd (and the faults), drain; returns the raw results."""
    t0 = time.monotonic()
    recorder = Recorder(t0)
    # No per-request timeout: a hung request shows as a fan that never finished.
    session = make_session(cfg.connections + cfg.poll_connections + cfg.waitlist_connections, timeout_s=None)
    api = Api(session, system.base_url, recorder, limit=cfg.connections, poll_limit=cfg.poll_connections,
              waitlist_limit=cfg.waitlist_connections,
              deadline=t0 + cfg.deadline_s, admin_token=system.admin_token)
    stop = asyncio.Event()
    meter = cputime.CpuMeter(system, recorder.now)
    await asyncio.to_thread(meter.open)
    background: list[asyncio.Task] = []
    probe_client = connect_async(system.redis_url, socket_timeout=2, max_connections=4)
    # The simulator's own loop lag: every latency it records includes it (bench.drop.servertimes).
    lag_t, lag_ms = array("d"), array("d")

    def lagged(seconds: float) -> None:
        lag_t.append(recorder.now())
        lag_ms.append(seconds * 1000.0)

    lag_task = asyncio.create_task(looplag.watch(lagged))
    readings: dict[str, servertimes.Reading] = {}
    prober: Prober | None = None
    probed = None
    try:
        await asyncio.to_thread(meter.read, "start")
        background.append(asyncio.create_task(meter.run(stop)))
        event_id, tiers = await create_event(api, f"Drop {run_id}", cfg.tiers, wave_size=cfg.wave_size,
                                             wave_interval_s=cfg.wave_interval_s)
        crowd = Crowd(api, event_id, cfg.plan, rng=random.Random(cfg.seed), tier_ids=[t["id"] for t in tiers])
        monitor = Monitor(api, event_id, crowd.stages, probe=redis_probe(probe_client, Keys(system.prefix), event_id))
        background += [asyncio.create_task(monitor.run(stop)), asyncio.create_task(_supervise(system, stop)),
                       asyncio.create_task(_progress(crowd, monitor, stop))]
        fans = [Fan(i, f"fan-{run_id}-{i}") for i in range(cfg.fans)]
        fans += [Fan(cfg.fans + i, f"fan-{run_id}-{cfg.fans + i}", late=True) for i in range(cfg.late_fans)]
        tasks: list[asyncio.Task] = []
        # 100,000 long-lived fans: keep the cyclic GC from re-scanning them all the time.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        log.info("%d fans join before on-sale", cfg.fans)
        crowd.add(fans[:cfg.fans])
        await _arrive(crowd, fans[:cfg.fans], cfg.join_window_s, tasks)
        await _until(lambda: crowd.stages["new"] + crowd.stages["joining"] <= 0, max(120.0, cfg.fans / 100), api.deadline)
        joined = recorder.now()
        if cfg.probes:
            # Its own process and loop, started now so that it is polling when the sale opens.
            prober = Prober(system.opts.run_dir / "prober", system.base_url, event_id,
                            [f.token for f in fans[:cfg.fans] if f.token], t0=t0, start_at=joined + cfg.lead_s,
                            probes=cfg.probes, poll_s=cfg.plan.poll_s, seed=cfg.seed)
            prober.start()
        log.info("opening the sale (%.0f s after start)", recorder.now())
        await open_sale(api, event_id, cfg.lead_s)
        on_sale = recorder.now()
        readings["on_sale"] = await asyncio.to_thread(servertimes.read, system.metrics_dirs)
        await asyncio.to_thread(meter.read, "on_sale")
        background.append(asyncio.create_task(_read_at_sold_out(system, monitor, on_sale, sum(t["capacity"] for t in tiers),
                                                                readings, stop, lambda: asyncio.to_thread(meter.read, "sold_out"))))
        chaos = None
        if cfg.chaos:
            chaos = Chaos(system, cfg.chaos, recorder, event_id, len(tiers))
            background.append(asyncio.create_task(chaos.run(stop)))
        crowd.add(fans[cfg.fans:])
        await _arrive(crowd, fans[cfg.fans:], cfg.late_window_s, tasks)
        await asyncio.wait(tasks, timeout=max(1.0, api.deadline - time.monotonic()))
        crowd_done = recorder.now()
        if prober is not None:
            probed, prober = await asyncio.to_thread(prober.finish), None
        readings["crowd_done"] = await asyncio.to_thread(servertimes.read, system.metrics_dirs)
        await asyncio.to_thread(meter.read, "crowd_done")
        log.info("every fan finished after %.0f s; draining holds", crowd_done)
        await _drain(system, monitor, cfg, api.deadline + 300)
        end = recorder.now()
        await asyncio.to_thread(meter.read, "end")
    finally:
        stop.set()
        if prober is not None:  # the crowd failed before it was done
            await asyncio.to_thread(prober.finish)
        lag_task.cancel()
        await asyncio.gather(*background, lag_task, return_exceptions=True)
        await asyncio.to_thread(meter.close)
        await api.close()
        await session.close()
        await probe_client.aclose()
    results = _assemble(cfg, recorder, monitor, fans, chaos, system, event_id, tiers, on_sale, crowd_done, end, api.retries,
                        api.slot_wait)
    results["_phases"][0] = ("pre-sale joins", 0.0, joined)
    results["_phases"].insert(1, ("countdown to on-sale", joined, on_sale))
    results["client_by_phase"] = {name: {kind: analysis.between(api.slot_wait[kind].samples, api.slot_wait_t[kind], a, b)
                                         for kind in api.slot_wait} for name, a, b in results["_phases"]}
    results["server_by_phase"] = _server_by_phase(readings)
    results["simulator_loop_lag_by_phase"] = {name: analysis.loop_lag(lag_ms, lag_t, a, b) for name, a, b in results["_phases"]}
    if probed is not None:
        results["prober"] = {"probes": probed.probes, "poll_s": probed.poll_s, "repeats": probed.repeats,
                             "by_phase": probed.by_phase(results["_phases"])}
    results["marks"]["all_joined_s"] = round(joined, 2)
    results["cpu"] = meter.summary(lambda a, b: analysis.requests_between(recorder, a, b))
    results["cpu_s"] = results["cpu"].pop("total")
    results["fans"]["progress_edge_hits"] = crowd.progress.edge_hits
    results["fans"]["progress_stale_hits"] = crowd.progress.stale_hits
    results["fans"]["progress_lock_timeouts"] = crowd.progress.lock_timeouts
    results["fans"]["fairness_edge_hits"] = crowd.fairness.edge_hits
    results["fans"]["places"] = dict(crowd.places)
    return results


def _remaining(status: dict, capacity: int) -> int | None:
    """Tickets remaining by the operator's status document: its own figure, or capacity less
    what is sold and held; None when it says neither."""
    remaining = status.get("remaining")
    if remaining is None and "sold" in status and "held" in status:
        remaining = capacity - status["sold"] - status["held"]
    return remaining


def _sold_out(status: dict, capacity: int) -> bool:
    """What _assemble calls sold out: no ticket remaining in the operator's status document."""
    remaining = _remaining(status, capacity)
    return remaining is not None and remaining <= 0


async def _read_at_sold_out(system: System, monitor: Monitor, on_sale: float, capacity: int,
                            readings: dict[str, servertimes.Reading], stop: asyncio.Event, read_cpu) -> None:
    """Read the web tier's timings and (``await read_cpu()``) the processes' CPU when the monitor
    first sees the sale sold out (the report's phase boundary)."""
    seen = 0
    while not stop.is_set():
        samples = monitor.samples
        for t, status, _ in samples[seen:]:
            if t >= on_sale and _sold_out(status, capacity):
                readings["sold_out"] = await asyncio.to_thread(servertimes.read, system.metrics_dirs)
                await read_cpu()
                return
        seen = len(samples)
        await asyncio.sleep(0.2)


def _server_by_phase(readings: dict[str, servertimes.Reading]) -> dict[str, dict]:
    """The web tier's own timings per route and its loop lag, for the on-sale and after the sell-out."""
    end_of_sale = readings.get("sold_out") or readings.get("crowd_done")
    table = {"on-sale to sold out": servertimes.between(readings.get("on_sale"), end_of_sale)}
    if "sold_out" in readings:
        table["after sold out"] = servertimes.between(readings["sold_out"], readings.get("crowd_done"))
    return table


async def _arrive(crowd: Crowd, fans: list[Fan], window_s: float, tasks: list) -> None:
    """Start the fans' visits, all at once or evenly over ``window_s``."""
    if window_s <= 0 or not fans:
        tasks += [asyncio.create_task(crowd.run(f)) for f in fans]
        return
    step, per_step = 0.05, max(1, round(len(fans) * 0.05 / window_s))
    for i in range(0, len(fans), per_step):
        tasks += [asyncio.create_task(crowd.run(f)) for f in fans[i:i + per_step]]
        await asyncio.sleep(step)


async def _until(predicate, timeout_s: float, deadline: float) -> bool:
    end = min(time.monotonic() + timeout_s, deadline)
    while time.monotonic() < end:
        if predicate():
            return True
        await asyncio.sleep(0.2)
    return predicate()


async def _supervise(system: System, stop: asyncio.Event) -> None:
    while not stop.is_set():
        system.supervise()
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except TimeoutError:
            pass


async def _progress(crowd: Crowd, monitor: Monitor, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 5.0)
        except TimeoutError:
            stages = ", ".join(f"{k} {v}" for k, v in sorted(crowd.stages.items()) if v)
            log.info("t=%.0fs sold %s held %s (redis: available %s held %s, admitted %s) | %s", crowd.api.recorder.now(),
                     monitor.latest("sold"), monitor.latest("held"), monitor.latest("redis_available"),
                     monitor.latest("redis_held"), monitor.latest("redis_room_up_to"), stages)


async def _drain(system: System, monitor: Monitor, cfg: DropConfig, deadline: float) -> None:
    """Wait for abandoned holds to expire (the scheduler's sweep), then run one sweep by hand."""
    limit = min(deadline, time.monotonic() + cfg.hold_ttl_s + 6 * cfg.sweep_interval_s + 30)
    await asyncio.sleep(1.5)  # a fresh monitor sample
    while time.monotonic() < limit and (monitor.latest("held") or 0) > 0:
        await asyncio.sleep(0.5)
    try:
        await asyncio.to_thread(system.cli, "sweep")
    except Exception as exc:  # noqa: BLE001 - the invariants will show what the sweep left
        log.warning("the final sweep failed: %s", exc)
    await asyncio.sleep(1.5)


def _assemble(cfg, recorder, monitor, fans, chaos, system, event_id, tiers, on_sale, crowd_done, end, retries, slot_wait) -> dict:
    capacity = sum(t["capacity"] for t in tiers)
    samples = monitor.samples
    for _, status, _ in samples:
        # When the operator's status call failed, the simulator's own look at Redis fills in.
        for key, fallback in (("held", "redis_held"), ("admitted_up_to", "redis_room_up_to")):
            if key not in status and fallback in status:
                status[key] = status[fallback]
        if "remaining" not in status and (remaining := _remaining(status, capacity)) is not None:
            status["remaining"] = remaining
    sold_out = analysis.first_time(samples, "remaining", lambda v: v <= 0, after=on_sale)
    fully_sold = analysis.first_time(samples, "sold", lambda v: v >= capacity, after=on_sale)
    phases = [("pre-sale", 0.0, on_sale), ("on-sale to sold out", on_sale, sold_out or crowd_done)]
    if sold_out is not None:
        phases.append(("after sold out", sold_out, crowd_done))
    results = {
        "event": {"id": event_id, "capacity": capacity,
                  "tiers": [{"id": t["id"], "name": t["name"], "capacity": t["capacity"]} for t in tiers]},
        "marks": {"on_sale_s": round(on_sale, 2), "sold_out_s": sold_out, "crowd_done_s": round(crowd_done, 2), "end_s": round(end, 2),
                  "sold_out_after_s": round(sold_out - on_sale, 2) if sold_out is not None else None,
                  "fully_sold_after_s": round(fully_sold - on_sale, 2) if fully_sold is not None else None},
        "elapsed_s": round(end, 1),
        "_phases": phases,
        "_recorder": recorder,
        "timeline": {
            "t": [round(t, 2) for t, _, _ in samples],
            **{k: [s.get(k) for _, s, _ in samples] for k in ("queue_waiting", "admitted_up_to", "held", "sold", "remaining",
                                                              "redis_available", "redis_held", "redis_mailbox",
                                                              "redis_drain_lease_ms", "redis_drain_flag_age_ms",
                                                              "redis_settle_flag_age_ms")},
            "fans_waiting": [st.get("waiting", 0) for _, _, st in samples],
        },
        "throughput_series": {name: analysis.per_second(recorder.endpoints[name].t, end)
                              for name in ("join", "status", "reserve", "confirm") if name in recorder.endpoints},
        "latency": analysis.latency_table(recorder),
        "latency_by_phase": {name: analysis.latency_table(recorder, a, b) for name, a, b in phases},
        "client": {pool: lat.summary() for pool, lat in slot_wait.items()},
        "fans": {"total": len(fans), "outcomes": _outcomes(fans), "retries": retries, "examples": _examples(fans),
                 "rejoins": sum(f.rejoins for f in fans), "requeues": sum(f.requeues for f in fans), "position_changes": sum(f.position_changes for f in fans),
                 "monitor_failures": monitor.failures, "waitlist": _waitlist(fans),
                 "waitlist_server_peak": {k: max((s.get(k) or 0 for _, s, _ in samples), default=None)
                                          for k in ("waitlist", "offers_outstanding")}},
        "chaos": _chaos_dict(chaos, system, recorder) if chaos else None,
        "_fans": fans,
    }
    return results


def _waitlist(fans: list[Fan]) -> dict[str, int]:
    """The waitlist from the fans' side: joins, offers seen and how they ended, tickets bought."""
    ends = Counter(f.waitlist for f in fans if f.waitlist)
    taken = ("bought", "payment_failed", "lapsed", "offered")  # "offered": its checkout broke the contract
    return {"joined": sum(ends.values()) - ends["refused"], "refused": ends["refused"],
            "offers_seen": sum(ends[k] for k in taken), "bought": ends["bought"], "payment_failed": ends["payment_failed"],
            "lapsed": ends["lapsed"], "gave_up": ends["gave_up"],
            "ended_otherwise": sum(v for k, v in ends.items() if k not in (*taken, "refused", "gave_up")),
            "tickets": sum(f.tickets for f in fans if f.waitlist == "bought")}


def _examples(fans: list[Fan], per_outcome: int = 3) -> dict[str, list[str]]:
    """A few fans' last words per outcome (what the report shows when something looks odd)."""
    examples: dict[str, list[str]] = {}
    for f in fans:
        shown = examples.setdefault(f.outcome, [])
        if len(shown) < per_outcome:
            shown.append(f"{f.user_id} (position {f.position}, admitted at {f.admitted_position}): {f.detail}"[:300])
    return examples


def _outcomes(fans: list[Fan]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in fans:
        counts[f.outcome] = counts.get(f.outcome, 0) + 1
    return counts


def _chaos_dict(chaos: Chaos, system: System, recorder: Recorder) -> dict:
    recovery = dict(chaos.recovery)
    if chaos.redis_restarted_at is not None:
        first = analysis.first_mark_after(recorder, ("held", "rejected"), chaos.redis_restarted_at)
        paid = analysis.first_mark_after(recorder, ("paid",), chaos.redis_restarted_at)
        recovery["redis_first_decision_s"] = round(first - chaos.redis_restarted_at, 2) if first is not None else None
        recovery["redis_first_payment_s"] = round(paid - chaos.redis_restarted_at, 2) if paid is not None else None
    return {"events": [(round(t, 2), k, d) for t, k, d in chaos.events], "recovery": recovery, "kills": chaos.kills, "kills_skipped": chaos.kills_skipped,
            "duplicates": chaos.duplicates, "restarts": sum(len(s.restarts) for s in system.services)}
