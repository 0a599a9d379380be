"""A light status prober in a process of its own: a fan's status poll as a client sees it,
without the simulator's busy event loop in the figure (issue 14).

The simulator plays every fan in one process; in an on-sale its loop is late a quarter to
nearly all of the time, and every latency it records holds that lateness (the answer waits in
the kernel until its loop reads it). The prober is ``python -m bench.drop.prober``, started by
the run (bench.drop.run) once the fans have joined: from the on-sale until the crowd is done,
``probes`` simulated fans, each on a connection of its own as a browser is, read a real fan's
status every ``poll_s`` seconds (jittered like the fans' polls) through the fans' own client
(bench.drop.client.Api: same retries, same timing from the moment a request has a
connection). Each read takes a token the prober has not read before, walking a shuffled list
of the fans' tokens, because nearly every status read of an on-sale is a fan's first since
the draw: it misses the web process's position cache and waits one Redis round trip, and a
prober re-reading a few tokens would time the cheaper cached answer. The prober's own loop
lag (web.looplag) and its wait for one of its connections are recorded too, so the report
can show that the prober itself kept up.

At about ``probes / poll_s`` reads a second (32 by default) it adds a fifth or so to an
on-sale's status reads and little else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from bench.drop import analysis
from bench.drop.client import Api, EndpointSamples, Recorder
from bench.drop.procs import Service
from bench.loadgen import make_session
from models.settings import ROOT
from web import looplag

log = logging.getLogger("bench.drop")

#: Simulated fans the prober plays by default (each polls every ``poll_s``).
DEFAULT_PROBES = 64
#: How long the prober lets its reads in flight finish once told to stop, in seconds.
FINISH_S = 5.0
#: The endpoint name its reads are recorded under (the fans' own, bench.drop.analysis).
ENDPOINT = "status"


@dataclass
class ProbeResult:
    """What the prober measured, on the run's clock (seconds since its ``t0``)."""

    recorder: Recorder
    #: Each read's wait for one of the prober's connections, in ms, and when it began (s).
    wait_ms: array = field(default_factory=lambda: array("d"))
    wait_t: array = field(default_factory=lambda: array("d"))
    #: The prober loop's lateness per timer (ms) and when it was seen (s).
    lag_ms: array = field(default_factory=lambda: array("d"))
    lag_t: array = field(default_factory=lambda: array("d"))
    probes: int = DEFAULT_PROBES
    poll_s: float = 2.0
    #: Reads of a token the prober had read before (it ran through its list of tokens).
    repeats: int = 0

    def by_phase(self, phases: list[tuple[str, float, float]]) -> dict[str, dict]:
        """Per phase: the reads' latency row (analysis.latency_table; None without reads), their
        wait for a connection and the prober loop's lag (analysis.between, analysis.loop_lag)."""
        return {name: {"status": analysis.latency_table(self.recorder, start, end).get(ENDPOINT),
                       "wait": analysis.between(self.wait_ms, self.wait_t, start, end),
                       "loop": analysis.loop_lag(self.lag_ms, self.lag_t, start, end)}
                for name, start, end in phases}

    def to_json(self) -> dict:
        samples = self.recorder.endpoints.get(ENDPOINT) or EndpointSamples()
        return {"probes": self.probes, "poll_s": self.poll_s, "repeats": self.repeats,
                "t": samples.t.tolist(), "ms": samples.ms.tolist(), "status": samples.status.tolist(),
                "wait_ms": self.wait_ms.tolist(), "wait_t": self.wait_t.tolist(),
                "lag_ms": self.lag_ms.tolist(), "lag_t": self.lag_t.tolist()}

    @classmethod
    def from_json(cls, data: dict, t0: float) -> ProbeResult:
        recorder = Recorder(t0)
        recorder.endpoints[ENDPOINT] = EndpointSamples(array("d", data["t"]), array("f", data["ms"]),
                                                       array("h", data["status"]))
        return cls(recorder, array("d", data["wait_ms"]), array("d", data["wait_t"]), array("d", data["lag_ms"]),
                   array("d", data["lag_t"]), data["probes"], data["poll_s"], data["repeats"])


class Tokens:
    """The fans' tokens in a shuffled order, each handed out once before any is handed out again."""

    def __init__(self, tokens: list[str], rng: random.Random) -> None:
        if not tokens:
            raise ValueError("the prober needs at least one fan's token")
        self._tokens = list(tokens)
        rng.shuffle(self._tokens)
        self.handed = 0

    @property
    def repeats(self) -> int:
        """Tokens handed out that had been handed out before."""
        return max(0, self.handed - len(self._tokens))

    def take(self) -> str:
        token = self._tokens[self.handed % len(self._tokens)]
        self.handed += 1
        return token


async def probe(api: Api, event_id: str, tokens: Tokens, *, probes: int, poll_s: float, stop: asyncio.Event,
                rng: random.Random) -> None:
    """Until ``stop`` is set: ``probes`` fans each read a status (a token from ``tokens``) every
    ``poll_s`` seconds, jittered as the fans' polls are (0.8-1.2x). A read in flight when ``stop``
    is set is finished, not cut off (a cut-off read would count as no answer)."""
    path = f"/events/{event_id}/waiting-room/status"

    async def one_fan() -> None:
        # Spread the first reads over one interval, as a crowd's polls are.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(0.0, poll_s))
        while not stop.is_set():
            await api.call(ENDPOINT, "GET", path, params={"token": tokens.take()}, poll=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_s * rng.uniform(0.8, 1.2))

    await asyncio.gather(*(one_fan() for _ in range(probes)))


async def run(base_url: str, event_id: str, tokens: list[str], *, t0: float, start_at: float, probes: int,
              poll_s: float, seed: int = 1, stop: asyncio.Event | None = None) -> ProbeResult:
    """Probe from ``start_at`` (seconds after ``t0``, on the monotonic clock every process of the
    machine shares) until ``stop`` is set (SIGTERM, when none is given); returns what was measured."""
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    recorder = Recorder(t0)
    session = make_session(probes)
    # One connection per simulated fan, as each browser has its own; none for commands.
    api = Api(session, base_url, recorder, limit=1, poll_limit=probes, waitlist_limit=1,
              deadline=float("inf"))
    result = ProbeResult(recorder, probes=probes, poll_s=poll_s)

    def lagged(seconds: float) -> None:
        result.lag_t.append(recorder.now())
        result.lag_ms.append(seconds * 1000.0)

    lag_task = asyncio.create_task(looplag.watch(lagged))
    order = Tokens(tokens, random.Random(seed))
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, t0 + start_at - time.monotonic()))
        reads = asyncio.create_task(probe(api, event_id, order, probes=probes, poll_s=poll_s, stop=stop,
                                          rng=random.Random(seed + 1)))
        await stop.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reads, FINISH_S)
    finally:
        lag_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lag_task
        await api.close()
        await session.close()
    result.wait_ms, result.wait_t = api.slot_wait["poll"].samples, api.slot_wait_t["poll"]
    result.repeats = order.repeats
    return result


class Prober:
    """The prober's process, seen from the run: start it, stop it, read what it measured."""

    def __init__(self, folder: Path, base_url: str, event_id: str, tokens: list[str], *, t0: float, start_at: float,
                 probes: int = DEFAULT_PROBES, poll_s: float = 2.0, seed: int = 1) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.t0 = t0
        self._tokens, self._out = folder / "tokens.txt", folder / "prober.json"
        self._tokens.write_text("\n".join(tokens))
        argv = [sys.executable, "-m", "bench.drop.prober", "--base-url", base_url, "--event", event_id,
                "--tokens", str(self._tokens), "--out", str(self._out), "--t0", repr(t0), "--start-at", repr(start_at),
                "--probes", str(probes), "--poll", str(poll_s), "--seed", str(seed)]
        self._service = Service("prober", argv, env=dict(os.environ), log_path=folder / "prober.log", cwd=ROOT)

    def start(self) -> None:
        self._service.start()

    def finish(self, timeout_s: float = FINISH_S + 10) -> ProbeResult | None:
        """Stop the prober (SIGTERM) and read its figures; None when it wrote none (it failed:
        see its log). Blocking: call it in a thread."""
        self._service.stop(timeout_s)
        try:
            return ProbeResult.from_json(json.loads(self._out.read_text()), self.t0)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("the status prober left no figures (%s); see %s", exc, self._service.log_path)
            return None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.drop.prober", description=__doc__.split("\n\n")[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--event", required=True, help="the event's id")
    p.add_argument("--tokens", type=Path, required=True, help="a file of fans' tokens, one a line")
    p.add_argument("--out", type=Path, required=True, help="where to write the figures (JSON)")
    p.add_argument("--t0", type=float, required=True, help="the run's start on the monotonic clock, s")
    p.add_argument("--start-at", type=float, default=0.0, help="when to begin, s after --t0")
    p.add_argument("--probes", type=int, default=DEFAULT_PROBES, help="simulated fans, each on its own connection")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between one simulated fan's reads")
    p.add_argument("--seed", type=int, default=1)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tokens = [line for line in args.tokens.read_text().splitlines() if line]
    result = asyncio.run(run(args.base_url, args.event, tokens, t0=args.t0, start_at=args.start_at, probes=args.probes,
                             poll_s=args.poll, seed=args.seed))
    args.out.write_text(json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
