"""Redis Cluster's one-slot rule, checked on fakeredis: every script call the tests make must
touch keys of one hash slot, or Redis Cluster would refuse it with CROSSSLOT.

``SlotCheck`` wraps fakeredis's command dispatch (every client, pipeline and thread goes
through it) and records each EVAL/EVALSHA whose keys lie in two slots or more; the autouse
fixture in tests/conftest.py fails the test that made one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fakeredis._socket._base import BaseFakeSocket

from models.keys import key_slot
from models.redis import LUA_DIR, lua_source


def _script_names() -> dict[bytes, str]:
    """sha1 -> script name for every models/lua script."""
    return {hashlib.sha1(lua_source(p.stem).encode()).hexdigest().encode(): p.stem for p in LUA_DIR.glob("*.lua")}


@dataclass
class SlotCheck:
    #: (script name, keys) of each call whose keys span several slots.
    violations: list[tuple[str, list[str]]] = field(default_factory=list)
    #: Script calls seen (so a test of the checker can prove it looked).
    calls: int = 0

    def observe(self, fields: list[bytes]) -> None:
        name = fields[0].upper() if fields else b""
        if name not in (b"EVAL", b"EVALSHA") or len(fields) < 3:
            return
        self.calls += 1
        keys = [k.decode(errors="replace") for k in fields[3:3 + int(fields[2])]]
        if len({key_slot(k) for k in keys}) > 1:
            sha = fields[1] if name == b"EVALSHA" else hashlib.sha1(fields[1]).hexdigest().encode()
            violation = (_script_names().get(sha, sha[:12].decode()), keys)
            if violation not in self.violations:  # an EVALSHA refused with NOSCRIPT is sent again as EVAL
                self.violations.append(violation)

    def report(self) -> str:
        lines = [f"{script}: " + ", ".join(f"{k} (slot {key_slot(k)})" for k in keys) for script, keys in self.violations]
        return "script calls over several Redis Cluster slots (CROSSSLOT on a cluster):\n  " + "\n  ".join(lines)


@contextmanager
def slot_check() -> Iterator[SlotCheck]:
    """Record cross-slot script calls made on any fakeredis server while the block runs."""
    check = SlotCheck()
    original = BaseFakeSocket._process_command

    def process_command(sock, fields):
        check.observe(fields)
        return original(sock, fields)

    BaseFakeSocket._process_command = process_command
    try:
        yield check
    finally:
        BaseFakeSocket._process_command = original
