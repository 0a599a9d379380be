"""Threads that run the web tier's blocking database calls (see web.dbexec.run_db).

Leaner than ``loop.run_in_executor`` on a ThreadPoolExecutor, which per call builds a
concurrent Future (with a Condition of its own), takes the executor's locks and chains the
result into an asyncio future: under bench-purchase that hand-off was about 9% of the web
process's samples. Here a call is one ``SimpleQueue.put`` and one ``call_soon_threadsafe``
back to the loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("ticketdrop.web.db")

#: (loop, future, function, args); None tells a thread to stop.
_Call = tuple[asyncio.AbstractEventLoop, asyncio.Future, Callable[..., Any], tuple[Any, ...]] | None


class DbThreads:
    """``threads`` daemon threads taking calls in arrival order; ``shutdown()`` lets them finish."""

    def __init__(self, threads: int, *, name: str = "db") -> None:
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        """Run ``fn(*args)`` in a thread; the answer is an asyncio future of the running loop.

        A call whose future is cancelled before a thread takes it is not run."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._calls.put((loop, future, fn, args))
        return future

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            loop, future, fn, args = call
            if future.cancelled():  # the caller gave up before the call started
                continue
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, as an executor does
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop closed meanwhile: nobody is waiting any more
                log.debug("database call finished after its event loop closed")

    def shutdown(self) -> None:
        """Run the calls already queued, then stop and join every thread."""
        for _ in self._threads:
            self._calls.put(None)
        for thread in self._threads:
            thread.join()


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled while the call ran
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
