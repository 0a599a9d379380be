"""The web process's collector: a high young-generation threshold, and start-up's heap frozen
once the app has started (web/gc_tuning.py)."""

from __future__ import annotations

import gc
import weakref

import pytest
from aiohttp import web

from web import gc_tuning


@pytest.fixture
def collector():
    """Restore the collector as it was, whatever the test did."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def _start(app: web.Application) -> None:
    runner = web.AppRunner(app)
    await runner.setup()  # runs on_startup
    await runner.cleanup()


async def test_the_threshold_is_raised_and_start_up_is_frozen_once_the_app_has_started(collector):
    gc.unfreeze()
    app = web.Application()
    made_at_start_up = []
    app.on_startup.append(lambda _app: _remember(made_at_start_up))
    gc_tuning.tune(app, 20_000)

    assert gc.get_threshold()[0] == 20_000
    assert gc.get_freeze_count() == 0, "nothing is frozen before start-up has run"
    await _start(app)

    assert gc.get_freeze_count() > 0
    assert made_at_start_up, "the app's own start-up ran before the freeze"


async def _remember(made: list) -> None:
    made.append({"built": "at start-up"})


async def test_zero_leaves_pythons_collector_alone(collector):
    gc.unfreeze()
    before = gc.get_threshold()
    app = web.Application()
    gc_tuning.tune(app, 0)
    await _start(app)

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_cycles_are_still_collected_after_tuning(collector):
    gc.unfreeze()
    app = web.Application()
    gc_tuning.tune(app, 20_000)
    await _start(app)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    del a, b
    gc.collect()
    assert alive() is None
