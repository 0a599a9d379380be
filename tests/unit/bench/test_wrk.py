"""bench.wrk's generated script, run by the real wrk (skipped where it is not installed, required
with CI=true as every program a test needs): what it sends, and that no thread starts before
every thread is ready."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import wrk
from tests.servers import unavailable


@pytest.fixture
def wrk_installed() -> None:
    if wrk.available() is None:
        unavailable(wrk.install_hint())


class _Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[float, str, str, str | None]] = []


@contextlib.contextmanager
def _server():
    """A keep-alive HTTP server on a free loopback port recording (time, method, path, X-User-Id)."""
    seen = _Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            with seen.lock:
                seen.requests.append((time.time(), self.command, self.path, self.headers.get("X-User-Id")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            pass  # wrk closes its connections mid-request when its time is up

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def run_dir(wrk_installed, tmp_path, monkeypatch):
    """The real wrk, and wrk.run's folder (the paths, the script, the threads' ready files) kept where the test can read it."""

    @contextlib.contextmanager
    def kept(prefix: str = ""):
        yield str(tmp_path)

    monkeypatch.setattr(wrk.tempfile, "TemporaryDirectory", kept)
    return tmp_path


def test_each_thread_walks_its_own_share_of_the_paths():
    assert wrk.thread_paths(["/a", "/b", "/c", "/d", "/e"], 2) == [["/a", "/c", "/e"], ["/b", "/d"]]
    assert wrk.thread_paths(["/only"], 2) == [["/only"], ["/only"]]


def test_get_requests_walk_the_paths_and_post_requests_send_a_new_user_each(run_dir):
    paths = [f"/p/{n}" for n in range(6)]
    with _server() as (url, seen):
        gets = wrk.run(url, paths, [os.getpid()], duration_s=1, connections=4)
        posts = wrk.run(url, ["/join"], [os.getpid()], duration_s=1, connections=4, method="POST", user_id_prefix="fan-")

    got = [r for r in seen.requests if r[1] == "GET"]
    posted = [r for r in seen.requests if r[1] == "POST"]
    assert {path for _, _, path, _ in got} == set(paths)
    assert all(user is None for *_, user in got)
    assert {path for _, _, path, _ in posted} == {"/join"}
    users = [user for *_, user in posted]
    assert len(set(users)) == len(users) and all(user.startswith("fan-") for user in users)
    assert gets.requests > 0 and posts.requests > 0 and gets.non_2xx_3xx == 0


def test_new_users_go_on_past_those_formatted_before_the_run(run_dir, monkeypatch):
    monkeypatch.setattr(wrk, "NEW_USERS_PER_S", 10)  # 5 a thread formatted ahead in a 1 s run
    with _server() as (url, seen):
        wrk.run(url, ["/join"], [os.getpid()], duration_s=1, connections=4, method="POST", user_id_prefix="fan-")

    users = [user for *_, user in seen.requests]
    assert len(users) > 10
    assert len(set(users)) == len(users)


def test_no_request_is_sent_before_the_last_thread_is_ready(run_dir):
    """wrk starts its first thread as soon as that thread's init() returns and counts requests from
    after the last one's: an early start would add requests the run's time does not hold."""
    paths = [f"/poll?token={n:044d}" for n in range(100_000)]  # a set-up long enough to be seen
    with _server() as (url, seen):
        result = wrk.run(url, paths, [os.getpid()], duration_s=1, connections=4)

    last_ready_s = (run_dir / "ready-2").stat().st_mtime
    assert result.requests > 0
    assert min(at for at, *_ in seen.requests) >= last_ready_s
    assert wrk.set_up_cpu_s(run_dir, 2) > 0
