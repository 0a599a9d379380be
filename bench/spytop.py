"""Top entries of a py-spy profile in raw (collapsed stack) format, as text tables.

    py-spy record --gil --nonblocking -d 20 -p PID -f raw -o web.txt
    python -m bench.spytop web.txt             # top 15 of each table

Three views of the same samples, each as a share of all samples:

- **self**: the function on top of the stack (where the interpreter was);
- **inclusive, our code**: frames from ``models/``, ``web/``, ``workers/``, ``scheduler/``,
  counted once per sample however deep the recursion;
- **inclusive, by library**: the sample is inside this library anywhere on its stack (peewee,
  psycopg2, redis, aiohttp, dramatiq...), so they overlap.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spytop", description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="py-spy raw output (-f raw)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    with open(args.profile) as f:
        print(render(summarize(parse(f)), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
