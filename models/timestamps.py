"""The API's one timestamp format: ISO 8601 in UTC, to the millisecond, ending in ``Z``
(``2030-11-01T17:03:12.345Z``, always three fraction digits: JavaScript's ``toISOString()``).

Milliseconds because that is what the hot state keeps (Redis scores and records are epoch
milliseconds, and reservation rows are truncated to them), so an instant reads the same from
Redis, from the database and on every endpoint. Every document writes its instants with
:func:`iso`, and web/responses.py writes any ``datetime`` left in a response the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
def iso(value: datetime | None) -> str | None:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.sssZ`` in UTC (a naive value is taken as UTC), or None."""
    if value is None:
        return None
    text = _written.get(value)
    if text is None:
        if len(_written) >= _WRITTEN_SIZE:
            _written.clear()
        text = _written[value] = _write(value)
    return text


#: Instants written recently -> their text (equal instants always read the same, whatever their
#: zone). The hot documents repeat a few instants (an event's on-sale, a wave's admission expiry)
#: on every answer: a lookup is a tenth of writing one (1.7 us).
_written: dict[datetime, str] = {}
_WRITTEN_SIZE = 4096


def _write(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
