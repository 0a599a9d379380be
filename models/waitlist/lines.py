"""How many fans wait ahead of a waitlist entry: counted in a per-process copy of each tier's
waiting line, read from the database at most once a second per tier, not once per poll.

Why: the count used to be a correlated ``COUNT(*)`` in the listing's one statement, an index
range as long as the fan's place. After a sell-out every fan on a waitlist polls ``/me/waitlist``
every few seconds; with 10,000 fans waiting on a tier the polls asked the database to walk
~10,000 index entries each, and one web process answered ~250-300 of the ~2,000 asked a second
while its database threads queued the rest (the drop of 2026-11-30, profiled: 80 % of the web
process's samples in that statement). Here the tier's line is one ordered read of the partial
index ``waitlist_entries_waiting_ahead`` (models/tables.py), kept as an array of ranks, and a
fan's count is a binary search in it.

The count may lag the database by up to ``LINE_MAX_AGE_S`` (plus one read while it is
refreshed): a fan polling every few seconds sees the line move a second late, never wrong by
more than what changed in that second. Blocking code, called from several database threads: a
line past its age is read again by one thread while the others answer from the previous copy.
"""

from __future__ import annotations

import threading
import time
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import peewee

from models.db import database
from models.tables import WaitlistEntry

#: How long a tier's line is trusted, in seconds.
LINE_MAX_AGE_S = 1.0
#: Tiers whose line one process keeps (the least recently read goes first): a handful are
#: sold out at once; the bound is against a long-running process collecting them.
LINE_TIERS = 256


class Line:
    """One tier's waiting fans in waitlist order: their ranks, and for the ranks two fans share
    (fans who never queued and joined in the same millisecond) the entries' ids in order."""

    __slots__ = ("read_at", "ranks", "ties")

    def __init__(self, read_at: float, ranks: array, ties: dict[int, list[Any]]) -> None:
        self.read_at = read_at
        self.ranks = ranks
        self.ties = ties

    def ahead(self, rank: int, entry_id: Any) -> int:
        """The fans ranked before (rank, entry_id): ties are broken by id, as the offer walk does."""
        before = bisect_left(self.ranks, rank)
        tied = self.ties.get(rank)
        return before if tied is None else before + bisect_left(tied, entry_id)


class WaitingLines:
    """The lines of the tiers this process was asked about (see the module docstring)."""

    def __init__(self, max_age_s: float = LINE_MAX_AGE_S, max_tiers: int = LINE_TIERS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.max_tiers = max_tiers
        self._clock = clock
        self._lines: OrderedDict[str, Line] = OrderedDict()
        #: Held by the one thread reading a line; the others answer from the previous copy.
        self._reading = threading.Lock()

    def ahead(self, tier_id: Any, rank: int, entry_id: Any) -> int:
        """Fans waiting before the entry (``rank``, ``entry_id``) on the tier's waitlist."""
        return self.line(str(tier_id)).ahead(rank, entry_id)

    def line(self, tier_id: str) -> Line:
        line = self._lines.get(tier_id)
        if line is not None and self._clock() - line.read_at < self.max_age_s:
            return line
        if line is not None and not self._reading.acquire(blocking=False):
            return line  # another thread is reading lines: the previous copy, a moment longer
        if line is None:
            self._reading.acquire()
        try:
            line = self._lines.get(tier_id)  # read meanwhile by the thread that held the lock?
            if line is None or self._clock() - line.read_at >= self.max_age_s:
                line = self._store(tier_id, read_line(tier_id, self._clock()))
            return line
        finally:
            self._reading.release()

    def _store(self, tier_id: str, line: Line) -> Line:
        lines = self._lines
        lines.pop(tier_id, None)
        if len(lines) >= self.max_tiers:
            lines.popitem(last=False)
        lines[tier_id] = line
        return line


def read_line(tier_id: str, read_at: float) -> Line:
    """The tier's waiting line from the database (one ordered read of the partial index), as
    of ``read_at`` on the reader's clock."""
    # 'waiting' as a literal, not a parameter: SQLite uses a partial index only for a literal.
    query = (WaitlistEntry.select(WaitlistEntry.rank, WaitlistEntry.id)
             .where(WaitlistEntry.tier == tier_id, WaitlistEntry.status == peewee.SQL("'waiting'"))
             .order_by(WaitlistEntry.rank, WaitlistEntry.id))
    ranks: array = array("q")
    ties: dict[int, list[Any]] = {}
    to_id = WaitlistEntry.id.python_value
    previous_rank, previous_id = None, None
    # The driver's rows as they come: an id is made a UUID only where two ranks tie.
    for rank, raw_id in database.execute(query):
        if rank == previous_rank:
            tied = ties.get(rank)
            if tied is None:
                tied = ties[rank] = [to_id(previous_id)]
            tied.append(to_id(raw_id))
        ranks.append(rank)
        previous_rank, previous_id = rank, raw_id
    return Line(read_at, ranks, ties)


#: The lines of this process.
LINES = WaitingLines()
