"""The per-process caches behind web.snapshots: known events and unknown ids (each bounded by
size and time) and the per-address count of unknown-id lookups.

Plain objects with no application state: the app factory builds one of each (web.appkeys.SNAPSHOTS,
web.appkeys.UNKNOWN_EVENTS), and a test may build its own with other bounds.
"""

from __future__ import annotations

from collections import OrderedDict

from models.catalog.snapshot import EventSnapshot
from models.errors import RateLimited
from models.ttlcache import TTLCache

#: How long a snapshot is trusted, in seconds.
SNAPSHOT_TTL_S = 1.0
#: Most events cached per process (a drop has a handful; the bound is against abuse).
SNAPSHOT_CACHE_SIZE = 1024
#: Most unknown ids remembered per process, and for how long, in seconds.
UNKNOWN_CACHE_SIZE = 1024
UNKNOWN_TTL_S = 1.0
#: Client addresses whose unknown-id lookups are counted per process (the oldest go first).
UNKNOWN_CLIENTS_SIZE = 10_000


class SnapshotCache:
    """Known events and unknown ids, each bounded by size (the oldest entry is evicted) and
    time (an entry past its deadline is a miss and is replaced)."""

    def __init__(self, size: int = SNAPSHOT_CACHE_SIZE, unknown_size: int = UNKNOWN_CACHE_SIZE,
                 unknown_ttl_s: float = UNKNOWN_TTL_S) -> None:
        #: event id -> EventSnapshot (a load in flight is shared by every request that misses)
        self.known: TTLCache[str, EventSnapshot] = TTLCache(SNAPSHOT_TTL_S, size)
        #: event id -> True while the id is remembered as naming no event
        self.unknown: TTLCache[str, bool] = TTLCache(unknown_ttl_s, unknown_size)

    def __len__(self) -> int:
        return len(self.known) + len(self.unknown)

    def forget(self, key: str) -> None:
        self.known.forget(key)
        self.unknown.forget(key)


class UnknownIdLimiter:
    """Counts each client address's lookups of unknown ids in one-minute windows (per process,
    in memory: a flood must cost no Redis command either). Bounded: at most ``clients`` addresses."""

    def __init__(self, per_min: int, clients: int = UNKNOWN_CLIENTS_SIZE) -> None:
        self.per_min = per_min
        self._clients = clients
        #: address -> [window start (monotonic s), count]
        self._windows: OrderedDict[str, list] = OrderedDict()

    def check(self, address: str, now: float) -> None:
        """Raise RateLimited if ``address`` spent its budget in the current window."""
        window = self._windows.get(address)
        if window is not None and now - window[0] < 60.0 and window[1] >= self.per_min:
            raise RateLimited("Too many lookups of unknown events from this address; retry later",
                              retry_after=60.0 - (now - window[0]), limits=["unknown_event"])

    def count(self, address: str, now: float) -> None:
        windows = self._windows
        window = windows.get(address)
        if window is None or now - window[0] >= 60.0:
            windows.pop(address, None)
            if len(windows) >= self._clients:
                windows.popitem(last=False)  # the oldest address (an OrderedDict: see models/ttlcache.py)
            windows[address] = [now, 1]
        else:
            window[1] += 1

    def __len__(self) -> int:
        return len(self._windows)
