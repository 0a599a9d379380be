"""Edge-cache benchmark: ``python -m bench.edge`` (``make bench-edge``).

Real nginx (the Debian package) runs deploy/nginx/ticketdrop.conf in front of two web
processes; a room of ``--fans`` waiting fans advances one wave a second (the wave tick runs
here, every ``--tick`` seconds) while every fan polls every ``--poll`` seconds for
``--seconds``. Two ways of polling are measured, one after the other:

- ``status``: each fan polls its own ``/status?token=...`` (one cache entry per fan);
- ``progress``: each fan reads its status once, then polls the event's shared
  ``/progress`` document, and reads its status again only when the document says its place
  may have been admitted (``admittedThrough >= position``) - the fan page's loop.

For each: how many polls nginx answered from its cache, and how many reached the web tier
(counted twice: nginx's ``$upstream_cache_status`` log, and the web processes' own request
counts from /metrics). Goal (issue 14): at most 1 in 5 repeat polls reach the web tier.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench import wrk
from bench.baseline import free_port, wait_for_port
from bench.waiting_room import build_queue, start_web
from models.keys import Keys
from models.settings import ROOT, Settings
from models.waiting_room import tokens
from models.waiting_room.sales import selling_events
from models.waiting_room.waves import step_event

CONFIG = ROOT / "deploy" / "nginx" / "ticketdrop.conf"
#: Cache statuses that mean nginx asked a web process.
REACHED = {"MISS", "EXPIRED", "REVALIDATED", "BYPASS", "-"}
_LOG = re.compile(r'"GET (\S+)" (\d+) \d+ cache=(\S+)')


def render_config(workdir: Path, port: int, upstreams: list[int] | list[str], host: str = "127.0.0.1") -> Path:
    """deploy/nginx/ticketdrop.conf with this run's listen address, upstreams (loopback ports, or
    ``address:port`` of web hosts: any number) and directories, inside a minimal main
    configuration (``nginx -p workdir -c nginx.conf``)."""
    text = CONFIG.read_text()
    text = text.replace("listen 8080;", f"listen {host}:{port};")
    servers = [u if isinstance(u, str) else f"127.0.0.1:{u}" for u in upstreams]
    text = text.replace("    server 127.0.0.1:8081;\n    server 127.0.0.1:8082;\n",
                        "".join(f"    server {s};\n" for s in servers))
    text = text.replace("/var/cache/nginx/ticketdrop", str(workdir / "cache"))
    text = text.replace("/var/log/nginx/ticketdrop.access.log", str(workdir / "access.log"))
    (workdir / "ticketdrop.conf").write_text(text)
    main = workdir / "nginx.conf"
    main.write_text(f"""user root;
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/ticketdrop.conf;
}}
""")
    return main


def start_nginx(workdir: Path, port: int, upstreams: list[int]) -> subprocess.Popen:
    main = render_config(workdir, port, upstreams)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check = subprocess.run([nginx, "-t", "-p", str(workdir), "-c", str(main)], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"nginx refused the configuration: {check.stderr}")
    proc = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(main)], stdout=subprocess.DEVNULL,
                            stderr=open(workdir / "nginx.out", "ab"), start_new_session=True)
    wait_for_port(port, 10.0, proc)
    return proc


def ticker(redis, keys: Keys, settings: Settings, event_id: str, interval_s: float, stop: threading.Event) -> None:
    """The scheduler's wave tick for one event, every ``interval_s``."""
    while not stop.is_set():
        now_ms = int(time.time() * 1000)
        sale = next((e for e in selling_events(now_ms, settings.wave_size, interval_s) if e.id == event_id), None)
        if sale is not None:
            step_event(redis, keys, settings, sale, now_ms)
        stop.wait(interval_s)


async def fan_loop(session: aiohttp.ClientSession, base: str, event_id: str, token: str, mode: str, poll_s: float,
                   until: float, counts: Counter) -> None:
    status_url = f"{base}/events/{event_id}/waiting-room/status?token={token}"
    progress_url = f"{base}/events/{event_id}/waiting-room/progress"
    await asyncio.sleep(random.random() * poll_s)  # fans arrived at different moments
    position = None
    admitted = False
    need_status = True
    while time.monotonic() < until:
        if mode == "status" or need_status:
            async with session.get(status_url) as resp:
                body = await resp.json()
            counts[f"{mode}:status:{resp.headers.get('X-Cache-Status', '-')}"] += 1
            position, admitted = body.get("position"), body.get("admission") != "queued"
            need_status = False
        else:
            async with session.get(progress_url) as resp:
                body = await resp.json()
            counts[f"{mode}:progress:{resp.headers.get('X-Cache-Status', '-')}"] += 1
            through = body.get("admittedThrough") or 0
            # Read my own status again when my place may have come up, or while undrawn after the draw.
            need_status = not admitted and ((position is not None and through >= position) or
                                            (position is None and body.get("drawn")))
        counts[f"{mode}:polls"] += 1
        await asyncio.sleep(poll_s)


async def crowd(base: str, event_id: str, toks: list[str], mode: str, poll_s: float, seconds: float) -> Counter:
    counts: Counter = Counter()
    until = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(fan_loop(session, base, event_id, t, mode, poll_s, until, counts) for t in toks))
    return counts


def web_requests(ports: list[int]) -> Counter:
    """Requests each web process served per route (its own /metrics, flushed at the scrape)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    out: Counter = Counter()
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "ticketdrop_http_request_duration_seconds_count":
                    out[s.labels["route"]] += s.value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edge", description=__doc__.split("\n")[0])
    parser.add_argument("--fans", type=int, default=1000, help="fans polling at once")
    parser.add_argument("--queue", type=int, default=20_000, help="fans in the room")
    parser.add_argument("--wave-size", type=int, default=200)
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between waves")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between a fan's polls")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of polling per mode")
    args = parser.parse_args(argv)
    print(f"command: python -m bench.edge {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"load before: {wrk.load_average()}", flush=True)
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        print("SKIPPED: nginx is not installed (`apt-get install -y nginx`, the Debian package)")
        return 0
    stop = threading.Event()
    with wrk.deployment("edge", {**os.environ, "WAVE_SIZE": str(args.wave_size)}) as run:
        settings, redis, keys, workdir = run.settings, run.redis, run.keys, run.workdir
        room = build_queue(redis, keys, settings, args.queue, 1)
        event_id = room["event_id"]
        ports = [free_port(), free_port()]
        for port in ports:
            procs, _ = start_web(settings, run.database_url, workdir / "web.log", port=port, trust_forwarded_for=True)
            run.servers += procs
        port = free_port()
        run.servers.append(start_nginx(workdir, port, ports))
        tick = threading.Thread(target=ticker, args=(redis, keys, settings, event_id, args.tick, stop), daemon=True)
        tick.start()
        try:
            base = f"http://127.0.0.1:{port}"
            # Fans from the whole queue: some near the front (admitted during the run), most behind.
            sample = random.Random(7).sample(range(args.queue), args.fans)
            toks = [tokens.issue(settings.secret_bytes, event_id, f"user-{i}").text for i in sample]
            for mode in ("status", "progress"):
                before_web = web_requests(ports)
                with open(workdir / "access.log", "a") as log:
                    log.write(f"### {mode}\n")
                counts = asyncio.run(crowd(base, event_id, toks, mode, args.poll, args.seconds))
                after_web = web_requests(ports)
                served = {route: after_web[route] - before_web[route] for route in after_web
                          if "waiting-room" in route and after_web[route] - before_web[route]}
                polls = counts[f"{mode}:polls"]
                reached = sum(n for k, n in counts.items() if k.count(":") == 2 and k.rsplit(":", 1)[1] in REACHED)
                hits = polls - reached
                print({"mode": mode, "fans": args.fans, "poll_s": args.poll, "tick_s": args.tick, "polls": polls,
                       "edge_answered": hits, "reached_web_tier": reached,
                       "reached_per_poll": round(reached / max(1, polls), 3),
                       # every fan's first poll must reach the web tier; the goal is about the rest
                       "repeat_polls": polls - len(toks), "repeat_reached": max(0, reached - len(toks)),
                       "repeat_reached_per_poll": round(max(0, reached - len(toks)) / max(1, polls - len(toks)), 3),
                       "by_cache_status": {k.split(":", 1)[1]: n for k, n in sorted(counts.items()) if k.count(":") == 2},
                       "web_processes_served": served}, flush=True)
        finally:
            stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
