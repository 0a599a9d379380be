"""Top entries of a py-spy profile in raw (collapsed stack) format, as text tables.

    py-spy record --gil --nonblocking -d 20 -p PID -f raw -o web.txt
    python -m bench.spytop web.txt             # top 15 of each table

Three views of the same samples, each as a share of all samples:

- **self**: the function on top of the stack (where the interpreter was);
- **inclusive, our code**: frames from ``models/``, ``web/``, ``workers/``, ``scheduler/``,
  counted once per sample however deep the recursion;
- **inclusive, by library**: the sample is inside this library anywhere on its stack (peewee,
  psycopg2, redis, aiohttp, dramatiq...), so they overlap.

**Versus a yardstick** (``--versus``): where a route's microseconds per request go beyond the
trivial handler's, function by function (self time), from two profiles bench.waiting_room
``--profile DIR`` took in the same round::

    python -m bench.spytop DIR/100000-1p-repeat --versus DIR/100000-1p-baseline

Each side is a profile prefix: its ``<prefix>-<pid>.txt`` files (one per server process) and the
``<prefix>.json`` bench/wrk.py wrote beside them (requests served, sampling rate). A sample
stands for 1/rate s of the GIL held, so samples x (1/rate) / requests is GIL-held time per
request; time the process spent in the kernel without the GIL (socket calls) is not in it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

#: "function (path/to/file.py:123)"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")
OUR_PACKAGES = ("models/", "web/", "workers/", "scheduler/", "bench/")
LIBRARIES = ("peewee", "playhouse", "psycopg2", "redis", "aiohttp", "dramatiq", "prometheus_client", "pydantic",
             "orjson", "asyncio", "concurrent", "threading", "apscheduler", "multidict", "yarl")


def parse(lines: Iterable[str]) -> list[tuple[list[tuple[str, str]], int]]:
    """``[(frames outermost first as (function, file), count)]`` from raw lines ``a;b;c 12``."""
    stacks = []
    for line in lines:
        line = line.rstrip("\n")
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for part in stack.split(";"):
            m = _FRAME.match(part.strip())
            frames.append((m["func"], m["file"]) if m else (part.strip(), ""))
        stacks.append((frames, int(count)))
    return stacks


def _library(file: str) -> str | None:
    path = file.replace("\\", "/")
    if "site-packages/" in path:
        top = path.split("site-packages/", 1)[1].split("/", 1)[0]
        top = top.removesuffix(".py")
        return top
    first = path.split("/", 1)[0].removesuffix(".py")
    return first if first in LIBRARIES else None


def _ours(file: str) -> bool:
    return file.startswith(OUR_PACKAGES) or any(f"/{p}" in file for p in OUR_PACKAGES)


def summarize(stacks: list[tuple[list[tuple[str, str]], int]]) -> dict[str, Counter]:
    """``{"self", "ours", "libraries"}`` -> Counter of sample counts; plus ``"total"``."""
    own, ours, libs = Counter(), Counter(), Counter()
    total = 0
    for frames, count in stacks:
        total += count
        if not frames:
            continue
        func, file = frames[-1]
        own[f"{func} ({file})"] += count
        for name in {f"{f} ({p})" for f, p in frames if _ours(p)}:
            ours[name] += count
        for lib in {_library(p) for _, p in frames} - {None}:
            libs[lib] += count
    return {"self": own, "ours": ours, "libraries": libs, "total": Counter({"samples": total})}


def render(summary: dict[str, Counter], top: int) -> str:
    total = summary["total"]["samples"] or 1
    out = [f"{summary['total']['samples']} samples"]
    for key, title in (("libraries", "inclusive, by library"), ("ours", "inclusive, our code"), ("self", "self")):
        out += ["", f"| {title} | share |", "|---|---|"]
        out += [f"| {name} | {100 * n / total:.0f}% |" for name, n in summary[key].most_common(top)]
    return "\n".join(out)


def per_request_us(prefix: str) -> tuple[Counter, float, dict]:
    """(self time in microseconds per request by function, total, the run's figures) of the
    profile ``prefix`` (every ``<prefix>-<pid>.txt``, summed, and ``<prefix>.json``)."""
    figures = json.loads(Path(f"{prefix}.json").read_text())
    files = sorted(Path(prefix).parent.glob(f"{Path(prefix).name}-[0-9]*.txt"))
    if not files:
        raise FileNotFoundError(f"no profile {prefix}-<pid>.txt")
    own: Counter = Counter()
    for path in files:
        with open(path, errors="replace") as f:  # py-spy writes some frames' names as raw bytes
            own.update(summarize(parse(f))["self"])
    scale = 1e6 / figures["rate_hz"] / max(1, figures["requests"])
    us = Counter({name: n * scale for name, n in own.items()})
    return us, sum(us.values()), figures


def where(name: str) -> str:
    """The group a function's self time counts in: ``ours``, a library, or ``python``."""
    file = name[name.rfind("(") + 1:-1]
    if _ours(file):
        return "ours"
    return _library(file) or "python"


def versus(route: str, baseline: str, top: int) -> str:
    """The table of :func:`main`'s ``--versus``: µs per request of the route, of the yardstick,
    and the difference, by function and by group, largest difference first."""
    r, r_total, r_fig = per_request_us(route)
    b, b_total, b_fig = per_request_us(baseline)
    out = [f"GIL-held µs per request: route {r_total:.1f} ({r_fig['requests']} requests, server CPU "
           f"{r_fig['server_cpu_us_per_request']:.1f} µs/request), yardstick {b_total:.1f} ({b_fig['requests']} requests, "
           f"server CPU {b_fig['server_cpu_us_per_request']:.1f}): {r_total - b_total:+.1f}",
           "", "| group | route µs | yardstick µs | difference |", "|---|---|---|---|"]
    groups_r, groups_b = Counter(), Counter()
    for name, v in r.items():
        groups_r[where(name)] += v
    for name, v in b.items():
        groups_b[where(name)] += v
    for g in sorted(set(groups_r) | set(groups_b), key=lambda g: -(groups_r[g] - groups_b[g])):
        out.append(f"| {g} | {groups_r[g]:.1f} | {groups_b[g]:.1f} | {groups_r[g] - groups_b[g]:+.1f} |")
    out += ["", "| function (self) | route µs | yardstick µs | difference |", "|---|---|---|---|"]
    names = sorted(set(r) | set(b), key=lambda n: -(r[n] - b[n]))
    out += [f"| {n} | {r[n]:.1f} | {b[n]:.1f} | {r[n] - b[n]:+.1f} |" for n in names[:top]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spytop", description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="py-spy raw output (-f raw); with --versus, a profile prefix")
    parser.add_argument("--versus", metavar="PREFIX", help="the yardstick's profile prefix: per-request differences")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    if args.versus:
        print(versus(args.profile, args.versus, args.top))
        return 0
    with open(args.profile, errors="replace") as f:
        print(render(summarize(parse(f)), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
