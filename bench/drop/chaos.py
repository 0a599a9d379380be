"""Faults injected during ``--chaos`` drops, each recorded with its time for the report.

- a worker process is SIGKILLed every ``kill_every_s`` (the supervisor restarts it), one seen
  running (its worker threads started) at least ``kill_every_s`` ago: killing a worker before it
  booted tests nothing but the machine's speed (on a loaded 2-core machine a worker takes over
  4 s to boot; workers killed every 2 s in turn, or at 2 s of age, never consumed a message and
  no drainer ran for the last 74 s of a run);
- every web process is stopped and started again once (downtime measured);
- Redis is SIGKILLed and restarted once, losing every key (recovery measured);
- copies of queued commands are enqueued again (duplicate deliveries, same message id).

The kills keep the run's clock (the recorder's, bench.drop.clock); the recoveries are measured
on the real one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis

from bench.drop.client import Recorder
from bench.drop.system import System

log = logging.getLogger("bench.drop")


@dataclass
class ChaosPlan:
    kill_every_s: float = 4.0
    #: Seconds after on-sale when the web processes restart, and when Redis does.
    web_restart_after_s: float = 5.0
    #: None leaves Redis alone.
    redis_restart_after_s: float | None = 20.0
    duplicate_every_s: float = 0.5
    duplicates_per_tick: int = 4
    #: Longest wait for a recovery to show, in seconds.
    recovery_timeout_s: float = 120.0


@dataclass
class Chaos:
    system: System
    plan: ChaosPlan
    recorder: Recorder
    event_id: str
    tier_count: int
    #: (seconds since start, kind, detail)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    #: Named recovery times in seconds ("web_downtime_s", "redis_health_s", "redis_counters_s",
    #: "room_restored_s").
    recovery: dict[str, float] = field(default_factory=dict)
    kills: int = 0
    #: Kill ticks that found no worker running for kill_every_s yet (all still booting).
    kills_skipped: int = 0
    #: A worker process counts as running once it has this many threads (its worker threads
    #: started); None: the system's worker threads + 1.
    running_threads: int | None = None
    #: pid -> when the killer first saw that worker process running.
    _running_since: dict[int, float] = field(default_factory=dict)
    duplicates: int = 0
    redis_restarted_at: float | None = None

    def note(self, kind: str, detail: str = "") -> float:
        t = self.recorder.now()
        self.events.append((t, kind, detail))
        log.info("chaos: %s %s", kind, detail)
        return t

    async def run(self, stop: asyncio.Event) -> None:
        """Start every fault at its time after on-sale (call at on-sale); returns when ``stop`` is set."""
        tasks = [asyncio.create_task(self._kill_workers(stop)),
                 asyncio.create_task(self._once(stop, self.plan.web_restart_after_s, self._restart_web))]
        if self.plan.redis_restart_after_s is not None:
            tasks.append(asyncio.create_task(self._once(stop, self.plan.redis_restart_after_s, self._restart_redis)))
        if self.system.owns_redis and not (self.system.opts.broker_url or "").startswith("amqp"):
            tasks.append(asyncio.create_task(self._duplicate(stop)))
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _once(self, stop: asyncio.Event, after_s: float, fault) -> None:
        try:
            await asyncio.wait_for(stop.wait(), after_s)
        except TimeoutError:
            await fault()

    async def _kill_workers(self, stop: asyncio.Event) -> None:
        i = 0
        while not stop.is_set():
            await self.recorder.clock.sleep(self.plan.kill_every_s)
            workers = self.system.workers
            grown = {svc.name: self._grown_worker(svc) for svc in workers}
            # In turn, skipping a worker not seen running an interval ago.
            for svc in [workers[(i + k) % len(workers)] for k in range(len(workers))]:
                pid = grown[svc.name]
                if pid is None:
                    continue
                i = workers.index(svc) + 1
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                self.kills += 1
                self.note("worker_killed", f"{svc.name} pid {pid}")
                break
            else:
                self.kills_skipped += 1

    def _grown_worker(self, svc) -> int | None:
        """The pid of ``svc``'s worker process if it was seen running ``kill_every_s`` ago (at an
        earlier tick), else None; notes the processes running now."""
        import psutil

        threads = self.running_threads or getattr(getattr(self.system, "opts", None), "worker_threads", 8) + 1
        now = self.recorder.clock.monotonic()
        pids = svc.children() or ([svc.proc.pid] if svc.alive else [])
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                if proc.status() == psutil.STATUS_ZOMBIE or proc.num_threads() < threads:
                    continue
            except psutil.Error:
                continue
            since = self._running_since.setdefault(pid, now)
            if now - since >= self.plan.kill_every_s * 0.9:
                return pid
        return None

    async def _restart_web(self) -> None:
        started = time.monotonic()
        self.note("web_restart", f"{len(self.system.webs)} web processes stopped (SIGTERM)")
        await asyncio.gather(*(asyncio.to_thread(svc.stop) for svc in self.system.webs))
        self.recovery["web_stop_s"] = round(time.monotonic() - started, 2)
        self.note("web_stopped", f"graceful stop took {self.recovery['web_stop_s']} s")
        for svc in self.system.webs:
            svc.restarts.append((time.monotonic(), "chaos restart"))
            svc.start()
        await self._timed_health("web_downtime_s", started)
        self.note("web_back", f"after {self.recovery.get('web_downtime_s')} s")

    async def _restart_redis(self) -> None:
        if not self.system.owns_redis:
            self.note("redis_restart_skipped", "Redis was given by URL; only a Redis the simulator owns is restarted")
            return
        self.system.redis.kill()
        self.redis_restarted_at = self.note("redis_killed", "SIGKILL, no persistence: every key lost")
        started = time.monotonic()
        await asyncio.to_thread(self.system.redis.start)
        self.note("redis_started")
        await asyncio.gather(self._timed_health("redis_health_s", started), self._wait_counters(started),
                             self._wait_room(started))

    async def _timed_health(self, name: str, started: float) -> None:
        try:
            await asyncio.to_thread(self.system.wait_healthy, False, self.plan.recovery_timeout_s)
        except RuntimeError as exc:
            self.note("not_healthy", str(exc))
            return
        self.recovery[name] = round(time.monotonic() - started, 2)

    async def _wait_rebuilt(self, started: float, name: str, what: str, rebuilt: Callable[[redis.Redis], bool]) -> None:
        """Time until ``rebuilt(client)`` holds after the restart (the recovery worker's or the
        wave tick's work, from the database)."""
        client = redis.Redis.from_url(self.system.redis_url, decode_responses=True, socket_timeout=2)
        try:
            while time.monotonic() - started < self.plan.recovery_timeout_s:
                try:
                    if rebuilt(client):
                        self.recovery[name] = round(time.monotonic() - started, 2)
                        self.note(f"{what.replace(' ', '_')}_rebuilt", f"after {self.recovery[name]} s")
                        return
                except redis.RedisError:
                    pass
                await asyncio.sleep(0.1)
            self.note(f"{what.replace(' ', '_')}_not_rebuilt", f"{what} not back {self.plan.recovery_timeout_s} s after the restart")
        finally:
            client.close()

    def _wait_counters(self, started: float) -> Awaitable[None]:
        """Time until the stock counters of every tier exist again."""
        key = f"{self.system.prefix}ev:{{{self.event_id}}}:stock"
        return self._wait_rebuilt(started, "redis_counters_s", "counters", lambda c: c.hlen(key) >= self.tier_count)

    def _wait_room(self, started: float) -> Awaitable[None]:
        """Time until the waiting room is live again (restored from the database)."""
        key = f"{self.system.prefix}room:{{{self.event_id}}}"
        return self._wait_rebuilt(started, "room_restored_s", "room", lambda c: bool(c.hexists(key, "live")))

    async def _duplicate(self, stop: asyncio.Event) -> None:
        from dramatiq.brokers.redis import RedisBroker
        from dramatiq.message import Message

        namespace = f"{self.system.prefix}dramatiq"
        broker = RedisBroker(url=self.system.redis_url, namespace=namespace)
        raw = redis.Redis.from_url(self.system.redis_url, socket_timeout=2)
        try:
            while not stop.is_set():
                await asyncio.sleep(self.plan.duplicate_every_s)
                try:
                    self.duplicates += await asyncio.to_thread(self._duplicate_tick, raw, broker, namespace, Message)
                except (redis.RedisError, OSError):
                    pass  # Redis is restarting: try again next tick
        finally:
            raw.close()
            broker.close()

    def _duplicate_tick(self, raw, broker, namespace: str, message_cls) -> int:
        """Enqueue copies (same message id) of a few messages queued or in flight; returns how many."""
        sent = 0
        for key in raw.scan_iter(match=f"{namespace}:*.msgs", count=100):
            if key.endswith(b".XQ.msgs"):
                continue
            for _, data in _pairs(raw.hrandfield(key, self.plan.duplicates_per_tick, withvalues=True) or []):
                broker.enqueue(message_cls.decode(data))
                sent += 1
        return sent


def _pairs(flat: list) -> list[tuple]:
    return list(zip(flat[0::2], flat[1::2], strict=True))
