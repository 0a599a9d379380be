"""The yardstick: a trivial aiohttp JSON handler, measured by the same client as the drop.

Every drop throughput is reported as a ratio to this figure, so results compare across
machines. ``python -m bench.baseline`` measures it alone; ``python -m bench.baseline serve
PORT`` is the server process the measurement starts.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time

from aiohttp import web

from bench.loadgen import LoadResult, run_load

#: Requests the measurement issues (fixed, so every run does the same work).
DEFAULT_REQUESTS = 20_000
#: Concurrent client connections during the measurement.
DEFAULT_CONCURRENCY = 64


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def serve(port: int, host: str = "127.0.0.1", *, reuse_port: bool = False) -> None:
    """Run the trivial app on ``host:port`` until killed (``reuse_port``: several processes share it)."""
    app = web.Application()
    app.router.add_get("/", _ok)
    web.run_app(app, host=host, port=port, access_log=None, print=None, reuse_port=reuse_port)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    """Block until something accepts on 127.0.0.1:``port``; raises RuntimeError on timeout or exit."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


async def measure(requests: int = DEFAULT_REQUESTS, concurrency: int = DEFAULT_CONCURRENCY, *, repeats: int = 1) -> LoadResult:
    """Start the trivial server in its own process, load it with ``requests`` GETs ``repeats``
    times, stop it. Returns the fastest run (on a shared machine the others measure the
    neighbours). Raises RuntimeError if the server does not start.
    """
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.baseline", "serve", str(port)])
    try:
        await asyncio.to_thread(wait_for_port, port, 15.0, proc)
        url = f"http://127.0.0.1:{port}/"

        async def hit(session, i: int) -> int:
            async with session.get(url) as resp:
                await resp.read()
                return resp.status

        await run_load(hit, concurrency, total=min(1000, requests))  # warm-up: connections, caches
        runs = [await run_load(hit, concurrency, total=requests) for _ in range(max(1, repeats))]
        return max(runs, key=lambda r: r.rps)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline")
    sub = parser.add_subparsers(dest="command")
    srv = sub.add_parser("serve", help="run the trivial server")
    srv.add_argument("port", type=int)
    srv.add_argument("--reuse-port", action="store_true", help="share the port with other server processes")
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, reuse_port=args.reuse_port)
        return 0
    result = asyncio.run(measure(args.requests, args.concurrency))
    print(result.as_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
