"""The time the simulator's fans live by: what they read from the clocks and how they wait.

Everything a fan does with time (its client's retries and deadline, its polls, a hold's
patience, the simulated edge's freshness) goes through one :class:`Clock`, shared through
the :class:`~bench.drop.client.Recorder`. A real drop uses :data:`REAL_CLOCK`, which *is*
``time.monotonic``, ``time.time`` and ``asyncio.sleep``; the unit tests pass a clock of their
own (tests/unit/bench/virtual_clock.py) so that a fan's story does not depend on how fast,
or whether, the machine runs.
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    """The real clocks: ``monotonic()`` and ``time()`` in seconds, ``await sleep(seconds)``."""

    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)
    sleep = staticmethod(asyncio.sleep)


#: The clock of a real drop (the default everywhere).
REAL_CLOCK = Clock()
