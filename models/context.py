"""Per-request context that follows work across await points and into actor messages."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

#: The id of the request (or actor message) being served; put in every log line.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def is_safe_request_id(raw: str) -> bool:
    """A caller's id we may log and echo: 1..128 of ``[A-Za-z0-9._:-]``."""
    return _SAFE_ID.match(raw) is not None


def clean_request_id(raw: str | None) -> str:
    """Keep a caller's id if it is safe to log, else make a new one."""
    if raw and _SAFE_ID.match(raw):
        return raw
    return os.urandom(16).hex()  # uuid4().hex's 32 hex digits, without building a UUID
