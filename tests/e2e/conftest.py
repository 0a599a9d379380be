"""End-to-end fixtures: the real system (web + worker + scheduler on real Redis, SQLite in a
temporary directory) started as subprocesses on a free port, and Debian's Chromium driven by
Playwright. Without Chromium or Redis the tests skip locally and fail when CI=true.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.http import Api
from tests.servers import mark_directory, unavailable

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_TOKEN = "e2e-admin-token-0123456789"
#: Seconds the system gets to answer /health before the tests give up.
STARTUP_TIMEOUT_S = 40
_HERE = Path(__file__).resolve().parent


def require(name: str, check) -> None:
    """Skip (locally) or fail (CI=true) when ``check()`` raises or returns False."""
    try:
        ok = check()
    except Exception as exc:  # noqa: BLE001 - any failure means the dependency is unusable
        ok, why = False, f"{type(exc).__name__}: {exc}"
    else:
        why = "not found"
    if not ok:
        unavailable(f"{name} is not available ({why}); end-to-end tests need it")


def pytest_collection_modifyitems(config, items):
    mark_directory(items, _HERE, pytest.mark.e2e)
    # The journeys that take the docs' screenshots run first, so the events in those pictures are
    # the sample catalogue and the journeys' own, not the dozen the accessibility checks add.
    items.sort(key=lambda item: Path(item.path).resolve() == _HERE / "test_accessibility.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_ping() -> bool:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    finally:
        client.close()


@dataclass
class System:
    base_url: str
    admin_token: str
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def api(self, user: str | None = None, *, token: str | None = None) -> Api:
        return Api(self.base_url, admin_token=self.admin_token, user=user, token=token)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name in self.processes:
            path = self.logs / f"{name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            out.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(out)


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    """Web, worker and scheduler on a free port, with their own database and Redis prefix."""
    with running_system(tmp_path_factory.mktemp("e2e")) as sysm:
        yield sysm


@contextmanager
def running_system(tmp: Path, **settings: str) -> Iterator[System]:
    """The system (demo identity unless ``settings`` say otherwise) until the block ends."""
    require("Chromium", lambda: Path(CHROMIUM).exists())
    require("Redis", _redis_ping)
    port = _free_port()
    prefix = f"e2e{uuid.uuid4().hex[:8]}:"
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp / 'e2e.db'}",
        "REDIS_URL": REDIS_URL,
        "BROKER_URL": REDIS_URL,
        "REDIS_PREFIX": prefix,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "e2e-secret-key-0123456789abcdef",
        "WAVE_INTERVAL_S": "1",
        "SWEEP_INTERVAL_S": "2",
        "RATE_JOIN_PER_MIN": "0",
        "RATE_RESERVE_PER_MIN": "0",
        "RATE_CHECKOUT_PER_MIN": "0",
        "RATE_PER_IP_PER_MIN": "0",
        "ACTOR_MAX_RETRIES": "2",
        "ROTATE_S": "5",  # the live ticket code changes within a test's patience
        "LOG_FORMAT": "console",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    py = sys.executable
    subprocess.run([py, "-m", "ticketdrop", "init-db"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    # The sample events too: the screenshots then show a realistic catalogue.
    subprocess.run([py, "-m", "ticketdrop", "seed"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    sysm = System(base_url=f"http://127.0.0.1:{port}", admin_token=ADMIN_TOKEN, logs=tmp)
    commands = {
        "web": [py, "-m", "web"],
        "worker": [py, "-m", "workers", "-p", "1", "-t", "4"],
        "scheduler": [py, "-m", "scheduler"],
    }
    for name, cmd in commands.items():
        with open(tmp / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
            sysm.processes[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(sysm)
        yield sysm
    finally:
        _stop(sysm)
        _drop_keys(prefix)
    if os.environ.get("E2E_SHOW_LOGS"):
        print(sysm.log_tail(200))


def _wait_healthy(sysm: System) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    api = sysm.api()
    while time.monotonic() < deadline:
        for name, proc in sysm.processes.items():
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode} during start-up\n{sysm.log_tail()}", pytrace=False)
        try:
            if api.get("/health?deep=1", expect=None).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the system did not become healthy in {STARTUP_TIMEOUT_S} s\n{sysm.log_tail()}", pytrace=False)


def _stop(sysm: System) -> None:
    for proc in sysm.processes.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in sysm.processes.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _drop_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


# -- the browser ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(system):
    # Module scope, not session: Playwright's sync API keeps an event loop running in this
    # thread while it is started, and pytest-asyncio cannot run async tests (collected after
    # these) until it stops.
    from playwright.sync_api import sync_playwright

    with _driver_in_its_own_session():
        p = sync_playwright().start()
    try:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        p.stop()


@contextmanager
def _driver_in_its_own_session() -> Iterator[None]:
    """Playwright's driver (a node process; Chromium runs in a group of its own) starts in a session
    of its own, so a Ctrl-C to the terminal's process group reaches pytest alone, which stops as
    "Interrupted" (status 2) and closes the browser. In the group, the driver died of the same
    Ctrl-C: every page, context and browser call, the fixtures' teardown too, raised
    TargetClosedError (status 1), or the tests went on and failed. Playwright has no option for it.
    Killed, pytest closes the driver's pipe, and the driver exits."""
    import asyncio

    real = asyncio.create_subprocess_exec

    async def in_own_session(*args, **kwargs):
        return await real(*args, start_new_session=True, **kwargs)

    asyncio.create_subprocess_exec = in_own_session
    try:
        yield
    finally:
        asyncio.create_subprocess_exec = real


@pytest.fixture
def new_page(browser, system):
    """Make pages in fresh browser profiles (each its own fan); script errors fail the test."""
    contexts, errors = [], []

    def make(*, viewport=(1280, 900)):
        context = browser.new_context(base_url=system.base_url, viewport={"width": viewport[0], "height": viewport[1]},
                                      locale="en-US", timezone_id="UTC", reduced_motion="reduce")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: _console_error(msg, errors))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


#: Console errors that are the API's (or the test's offline switch's) doing, not the page's.
_EXPECTED_CONSOLE = ("Failed to load resource", "net::ERR_INTERNET_DISCONNECTED")


def _console_error(msg, errors: list[str]) -> None:
    # Anything else (a CSP refusal, a failed module import) is a bug in the page.
    if msg.type == "error" and not any(text in msg.text for text in _EXPECTED_CONSOLE):
        errors.append(msg.text)


@pytest.fixture
def page(new_page):
    return new_page()
