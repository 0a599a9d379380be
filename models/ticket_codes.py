"""Rotating ticket codes: what a fan's phone shows at the gate, changing every ROTATE_S seconds.

Each ticket has a secret of its own (32 random bytes, hex in ``tickets.secret``), given only to
its owner's device (``GET /me/tickets/{code}/rotating``) and never shown in lists. The device
shows ``code.step.mac`` with ``step = floor(unix_time / ROTATE_S)`` and
``mac = HMAC-SHA256(secret, "code|step")`` cut to MAC_HEX hex digits. A screenshot stops scanning
after one or two steps; a transfer draws a new secret, so the old owner's codes die at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

#: Bytes of a ticket secret (stored as twice as many hex digits).
SECRET_BYTES = 32
#: Hex digits of the MAC a code carries (64 bits: a guess per scan has 2^-64 odds).
MAC_HEX = 16
#: Steps either side of now the scanner accepts (clock skew between phone and scanner).
SKEW_STEPS = 1
#: A rotating code: 32 hex digits of ticket code, a step number, a MAC.
_CODE_RE = re.compile(rf"^([0-9a-f]{{32}})\.(\d{{1,12}})\.([0-9a-f]{{{MAC_HEX}}})$")


def new_secret() -> str:
    """A fresh per-ticket secret (hex). The one function issuance and transfer call."""
    return secrets.token_hex(SECRET_BYTES)


def current_step(rotate_s: int, now_s: float | None = None) -> int:
    """The step number at ``now_s`` (unix seconds; default now)."""
    return int((time.time() if now_s is None else now_s) // rotate_s)


def mac(secret_hex: str, code: str, step: int) -> str:
    """The MAC of ``code`` at ``step`` under the ticket's secret, as MAC_HEX hex digits."""
    return hmac.new(bytes.fromhex(secret_hex), f"{code}|{step}".encode(), hashlib.sha256).hexdigest()[:MAC_HEX]


def rotating_code(secret_hex: str, code: str, step: int) -> str:
    """What the owner's device shows at ``step``: ``code.step.mac``."""
    return f"{code}.{step}.{mac(secret_hex, code, step)}"


@dataclass(frozen=True)
class Presented:
    """A rotating code as read by a scanner, not yet checked."""

    code: str
    step: int
    mac: str


def parse(payload: str) -> Presented | None:
    """The parts of a rotating code, or None if ``payload`` is not one."""
    match = _CODE_RE.match(payload.strip())
    if match is None:
        return None
    return Presented(match.group(1), int(match.group(2)), match.group(3))


def genuine(secret_hex: str | None, presented: Presented) -> bool:
    """True if the MAC was made with this secret (constant-time)."""
    if not secret_hex:
        return False
    return hmac.compare_digest(mac(secret_hex, presented.code, presented.step), presented.mac)


def age(presented: Presented, rotate_s: int, now_s: float | None = None) -> str:
    """"current" within SKEW_STEPS of now, "expired" if older, "future" if newer."""
    delta = presented.step - current_step(rotate_s, now_s)
    if delta < -SKEW_STEPS:
        return "expired"
    if delta > SKEW_STEPS:
        return "future"
    return "current"
