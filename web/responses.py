"""JSON responses encoded with orjson; a ``datetime`` is written in the API's one timestamp
format (:func:`models.timestamps.iso`), the same as the documents that format their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from models.timestamps import iso

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=_OPTS, default=_default)


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return iso(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json", headers=headers)
