"""Command line: ``python -m ticketdrop {init-db,seed,sweep,run}``."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from models.db import bind_database, open_database
from models.logs import configure_logging
from models.runtime import build_runtime
from models.schema import create_schema
from models.seed import seed
from models.settings import ROOT, VAR_DIR, Settings
from models.sweeps import run_all_sweeps
from ticketdrop import embedded_redis
from workers.entry import wire

SECRETS_FILE = VAR_DIR / "secrets.env"
#: The origins a local run allows (the dev server of the pages, and the app itself); a deployment
#: allows none unless CORS_ORIGINS says so.
LOCAL_CORS_ORIGINS = "http://localhost:5173,http://localhost:8080"
#: How long the launcher lets honcho stop the services after a Ctrl-C (honcho itself SIGKILLs what is
#: left 5 s after its SIGTERMs) before it kills every process of the run itself.
GRACEFUL_STOP_S = 15.0


def _bind(settings: Settings) -> None:
    bind_database(open_database(settings.database_url, max_connections=4))


def cmd_init_db(settings: Settings) -> None:
    _bind(settings)
    create_schema()
    print("schema ready")


def cmd_seed(settings: Settings, *, if_empty: bool) -> None:
    _bind(settings)
    create_schema()
    created = seed(if_empty=if_empty)
    print(f"seeded {created} events" if created else "database already has events; not seeding")


def cmd_sweep(settings: Settings) -> None:
    configure_logging(settings, process="sweep")
    wire(settings)  # the sweeps send actor messages (drains, settles, refunds)
    report = run_all_sweeps(build_runtime(settings))
    print(report)


def _load_or_make_secrets() -> dict[str, str]:
    """ADMIN_TOKEN and SECRET_KEY for a local run, kept in var/secrets.env across restarts."""
    values: dict[str, str] = {}
    if SECRETS_FILE.exists():
        for line in SECRETS_FILE.read_text().splitlines():
            key, _, value = line.partition("=")
            if key and value:
                values[key.strip()] = value.strip()
    changed = False
    for key, size in (("ADMIN_TOKEN", 24), ("SECRET_KEY", 32)):
        if key not in values:
            values[key] = secrets.token_urlsafe(size)
            changed = True
    if changed:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        SECRETS_FILE.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        SECRETS_FILE.chmod(0o600)
    return values


def embedded_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with what a local run needs and a deployment must set itself: the kept secrets
    (every process of the run shares them) and the local CORS origins."""
    for key, value in _load_or_make_secrets().items():
        env.setdefault(key, value)
    env.setdefault("CORS_ORIGINS", LOCAL_CORS_ORIGINS)
    return env


def cmd_run(concurrency: str | None) -> int:
    """Start embedded Redis if REDIS_URL is unset, prepare the database, run the Procfile."""
    env = embedded_env(dict(os.environ))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the run as Ctrl-C does
    redis_proc = None
    try:
        if not env.get("REDIS_URL"):
            # Its own session: the terminal's Ctrl-C must not stop Redis under services still stopping.
            redis_proc, env["REDIS_URL"] = embedded_redis.start(start_new_session=True)
            print(f"embedded Redis at {env['REDIS_URL']}")
        return _run_procfile(env, concurrency)
    finally:
        if redis_proc is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C must not leave it running
            redis_proc.terminate()
            try:
                redis_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                redis_proc.kill()
                redis_proc.wait()


def _run_procfile(env: dict[str, str], concurrency: str | None) -> int:
    env.setdefault("PORT", "8080")
    env.setdefault("LOG_FORMAT", "console")
    env.setdefault("PYTHON", sys.executable)  # the Procfile's interpreter (default .venv/bin/python)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT)
    settings = Settings.from_env(env)
    cmd_init_db(settings)
    if env.get("SKIP_SEED") != "1":
        cmd_seed(settings, if_empty=True)
    metrics_dir = env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics"))
    Path(metrics_dir).mkdir(parents=True, exist_ok=True)
    for stale in Path(metrics_dir).glob("*.db"):
        stale.unlink()
    args = [os.path.join(bin_dir, "honcho"), "start", "-f", str(ROOT / "Procfile"), "-d", str(ROOT), "-p", env["PORT"]]
    if concurrency:
        args += ["-c", concurrency]
    url = f"http://localhost:{env['PORT']}"
    print(f"\n  TicketDrop is starting at {url}   (admin: {url}/admin, token in {SECRETS_FILE})\n", flush=True)
    # Its own session, so that only the launcher passes Ctrl-C on: once, and honcho alone.
    return supervise(subprocess.Popen(args, env=env, start_new_session=True))


def supervise(honcho: subprocess.Popen, graceful_stop_s: float = GRACEFUL_STOP_S) -> int:
    """Wait for honcho; on Ctrl-C (or SIGTERM) ask it to stop the services, and if a second Ctrl-C
    comes or it has not stopped them in ``graceful_stop_s``, kill every process it started.

    honcho starts each service in a session of its own (the terminal's Ctrl-C never reaches them),
    and one Ctrl-C while it is still starting them can leave it waiting on services it never
    stops; the launcher cannot hand a second Ctrl-C to it, so it ends them itself."""
    try:
        return honcho.wait()
    except KeyboardInterrupt:
        pass
    try:
        honcho.send_signal(signal.SIGINT)
        return honcho.wait(timeout=graceful_stop_s)
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may interrupt the kill
    print("\n  stopping every process of the run now (SIGKILL)\n", file=sys.stderr, flush=True)
    kill_tree(honcho.pid)
    honcho.wait()
    return 130


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and all its descendants (found first, so none is reparented out of reach),
    and the process group each leads."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            if os.getpgid(proc.pid) == proc.pid and proc.pid != os.getpgrp():
                os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            pass
    psutil.wait_procs(family, timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketdrop")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init-db", help="create tables and indexes (idempotent)")
    seeding = sub.add_parser("seed", help="create the 10 sample events")
    seeding.add_argument("--if-empty", action="store_true", help="only when there are no events yet")
    sub.add_parser("sweep", help="run one expiry & recovery sweep now")
    run = sub.add_parser("run", help="start web + worker + scheduler (and embedded Redis)")
    run.add_argument("-c", "--concurrency", help="honcho concurrency, e.g. web=1,worker=2")
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run(args.concurrency)
    # Creating tables and sample events neither signs nor serves anything: no secrets needed.
    settings = Settings.from_env(require_secrets=args.command == "sweep")
    if args.command == "init-db":
        cmd_init_db(settings)
    elif args.command == "seed":
        cmd_seed(settings, if_empty=args.if_empty)
    elif args.command == "sweep":
        cmd_sweep(settings)
    return 0
