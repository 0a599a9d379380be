"""Request parsing against declared pydantic schemas; every failure names the field."""

from __future__ import annotations

import re
import uuid
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from models.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from web.identity import current_user
from web.problems import located

M = TypeVar("M", bound=BaseModel)


def _field_path(loc: tuple[Any, ...], prefix: str) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    path = ".".join(parts) if parts else "body"
    return f"{prefix}{path}" if prefix else path


def validation_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """pydantic errors as ``[{"field", "message"}]``."""
    out = []
    for err in exc.errors(include_url=False):
        message = err.get("msg", "invalid")
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        out.append({"field": _field_path(tuple(err.get("loc", ())), prefix), "message": message})
    return out


def _raise_validation(exc: ValidationError, prefix: str = "") -> None:
    errors = validation_errors(exc, prefix)
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    raise located(ValidationFailed(f"Invalid {summary}", errors=errors)) from None


async def read_json(request: web.Request) -> Any:
    """The body as JSON; 415 if not JSON, 413 if too big, 400 if malformed."""
    ctype = request.content_type
    if request.body_exists and ctype not in ("application/json", "application/problem+json") and not ctype.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {ctype or 'none'}", field="header.Content-Type")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"Body is over the {request.app._client_max_size} byte limit", field="body") from None
    if not raw:
        raise InvalidInput("A JSON body is required", field="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"Malformed JSON: {exc}", field="body") from None


async def json_body(request: web.Request, schema: type[M]) -> M:
    """Parse and validate the body with ``schema``; raises 400/413/415/422 naming the field."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object", field="body")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        _raise_validation(exc)
    raise AssertionError("unreachable")


def query(request: web.Request, schema: type[M]) -> M:
    """Validate the query string with ``schema``; errors name ``query.<param>``."""
    try:
        return schema.model_validate(dict(request.query))
    except ValidationError as exc:
        errors = validation_errors(exc, "query.")
        raise InvalidInput("Invalid query: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors) from None


#: Parsed path ids: every status poll of an event names the same event id.
_UUIDS: dict[str, uuid.UUID] = {}
_UUID_CACHE_SIZE = 10_000


def path_uuid(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID path segment; malformed ids are 404 (no such resource can exist)."""
    raw = request.match_info.get(name, "")
    parsed = _UUIDS.get(raw)
    if parsed is not None:
        return parsed
    try:
        parsed = uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"No resource with {name} {raw!r} (not a UUID)", field=f"path.{name}") from None
    if len(_UUIDS) >= _UUID_CACHE_SIZE:
        _UUIDS.clear()
    _UUIDS[raw] = parsed
    return parsed


def user_id(request: web.Request, *, required: bool = True) -> str | None:
    """The fan's user id as IDENTITY_MODE says (web/identity.py): 400 naming X-User-Id when it
    is missing (if required) or malformed, 401 with WWW-Authenticate for a refused bearer token."""
    return current_user(request, required=required)


#: Longest ``Prefer: wait`` we honour, in seconds.
MAX_PREFER_WAIT_S = 10.0
_WAIT_RE = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d+(?:\.\d+)?)\"?", re.IGNORECASE)


def prefer_wait(request: web.Request) -> float | None:
    """Seconds asked for by ``Prefer: wait=N`` (RFC 7240), capped at 10; None if absent."""
    header = ",".join(request.headers.getall("Prefer", []))
    match = _WAIT_RE.search(header)
    if not match:
        return None
    return min(float(match.group(1)), MAX_PREFER_WAIT_S)
