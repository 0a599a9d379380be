"""Route documentation: handlers declare their schemas with :func:`doc`; the OpenAPI 3.1
document is built from the live router, so every route is in it or the test fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from web.ratelimit import scope_for

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

#: X-User-Id as the server takes it (models.identity.USER_ID_RE): 1..128 visible ASCII characters.
USER_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[\x21-\x7e]+$"}
#: Idempotency-Key as models.checkout.idempotency.parse_key takes it: 1..255 visible ASCII characters,
#: optionally an sf-string in double quotes (which are removed, so '""' alone names no key).
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 255,
                          "pattern": r'^(?:[\x21-\x7e]|[\x21\x23-\x7e][\x21-\x7e]|"[\x21\x23-\x7e]|[\x21-\x7e]{3,})$'}
#: The 429 of routes that look an event up by the path's id (web.snapshots.request_event).
UNKNOWN_EVENT_FLOOD = ("This address looked up more than RATE_UNKNOWN_EVENT_PER_MIN unknown event ids in the last "
                       "minute (limits: [\"unknown_event\"], Retry-After)")
#: Routes that read nothing but the process itself: no backing service can make them answer 503.
_SELF_CONTAINED = frozenset({"/", "/admin", "/docs", "/openapi.json", "/ui/{path}", "/metrics"})
_RETRY_AFTER = {"description": "Seconds to wait before trying again", "schema": {"type": "string", "pattern": "^[0-9]+$"}}

_STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Invalid input",
    401: "Authentication required", 403: "Forbidden", 404: "Not found", 405: "Method not allowed", 408: "Request timeout",
    409: "Conflict", 410: "Gone", 413: "Payload too large", 415: "Unsupported media type",
    422: "Validation failed", 429: "Too many requests", 503: "Service unavailable",
}
#: Statuses any route with a JSON request body can answer, before its handler runs or while parsing.
_BODY_STATUSES = {
    400: "Malformed JSON, or not a JSON object",
    408: "The body did not arrive within BODY_READ_TIMEOUT_S",
    413: "Content-Length or the body is over MAX_BODY_BYTES",
    415: "Content-Type is not application/json",
    422: "A field breaks a rule (errors[].field names it); rules that depend on other fields or on stored "
         "state are stated in the field descriptions",
}

#: Statuses a route without a request body still answers when a request brings one: the edge
#: reads it under the same limits (web.bodies) before the route runs.
_ANY_BODY_STATUSES = {status: f"{_BODY_STATUSES[status]} (this route reads no body, but one was sent)" for status in (408, 413)}


@dataclass
class Doc:
    summary: str
    tags: list[str]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | dict | None = None
    #: Extra statuses: {status: description}. 2xx use ``response``; others are problems.
    responses: dict[int, str] = field(default_factory=dict)
    status: int = 200
    admin: bool = False
    user_header: bool = False  # True = X-User-Id required; None-like "optional" via headers
    headers: list[dict[str, Any]] = field(default_factory=list)
    content_type: str = "application/json"


def doc(summary: str, *, tags: list[str], **kwargs: Any) -> Callable:
    """Attach OpenAPI metadata to a handler."""

    def wrap(handler: Callable) -> Callable:
        handler.__openapi__ = Doc(summary=summary, tags=tags, **kwargs)
        return handler

    return wrap


def _schema_for(model: type[BaseModel] | dict, components: dict) -> dict:
    if isinstance(model, dict):
        return model
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameters(path: str, d: Doc, components: dict) -> list[dict]:
    params = []
    for name in re.findall(r"{(\w+)}", path):
        params.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    if d.query is not None:
        schema = d.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    if d.user_header:
        params.append({"name": "X-User-Id", "in": "header", "required": True,
                       "description": "The fan (IDENTITY_MODE demo or proxy). With IDENTITY_MODE=jwt send "
                                      "'Authorization: Bearer <token>' instead; X-User-Id is then refused (400)"})
    params.extend(dict(h) for h in d.headers)
    # The header rules live here, once: a handler names the header, the document states the rule.
    for param in params:
        if param["in"] == "header" and param["name"] in _HEADER_SCHEMAS:
            param["schema"] = dict(_HEADER_SCHEMAS[param["name"]])
            if not param["required"]:  # an empty value is taken as no header at all
                param["schema"].update(minLength=0, pattern=param["schema"]["pattern"].replace("+$", "*$"))
    return params


_HEADER_SCHEMAS = {"X-User-Id": USER_ID_SCHEMA, "Idempotency-Key": IDEMPOTENCY_KEY_SCHEMA}


def _statuses(method: str, path: str, d: Doc, parameters: list[dict]) -> dict[int, str]:
    """Every status the route can answer besides its success: the handler's own (``d.responses``)
    and those the request's parsing, the edge step and the backing services add."""
    statuses = dict(d.responses)
    # A route without a body still answers a body sent anyway: the edge reads it under the same limits.
    for status, text in (_BODY_STATUSES if d.body is not None else _ANY_BODY_STATUSES).items():
        statuses.setdefault(status, text)
    if d.query is not None:
        statuses.setdefault(400, "A query parameter is malformed or out of range (errors[].field names it)")
    headers = {p["name"] for p in parameters if p["in"] == "header"}
    if "X-User-Id" in headers:
        statuses.setdefault(400, "X-User-Id missing or malformed")
    if "Idempotency-Key" in headers:
        statuses.setdefault(400, "Idempotency-Key malformed")
    if "{" in path:
        statuses.setdefault(404, "No such resource (a malformed id is 404 too)")
    scope = scope_for(method, path)
    if scope is not None:
        per = " of this event" if scope == "join" else ""  # the join's quotas count per event
        statuses[429] = (f"Over the per-user ({scope}) or per-address rate limit{per}: problem rate_limited with "
                         "limits and Retry-After" + (f"; {statuses[429]}" if 429 in statuses else ""))
    if path not in _SELF_CONTAINED:
        statuses.setdefault(503, "Redis or the database is unavailable (Retry-After)")
    return statuses


def build_document(app: web.Application, *, title: str = "TicketDrop API", version: str = "1.0.0") -> dict:
    """The OpenAPI 3.1 document for every documented route of ``app``."""
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict] = {}
    for route in app.router.routes():
        d: Doc | None = getattr(route.handler, "__openapi__", None)
        if d is None or route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource else ""
        op: dict[str, Any] = {
            "summary": d.summary,
            "tags": d.tags,
            "operationId": f"{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "parameters": _parameters(path, d, components),
            "responses": {},
        }
        if d.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _schema_for(d.body, components)}}}
        ok: dict[str, Any] = {"description": _STATUS_TEXT.get(d.status, "OK")}
        if d.response is not None:
            ok["content"] = {d.content_type: {"schema": _schema_for(d.response, components)}}
        elif d.content_type != "application/json":
            ok["content"] = {d.content_type: {"schema": {"type": "string"}}}
        op["responses"][str(d.status)] = ok
        statuses = _statuses(route.method, path, d, op["parameters"])
        if d.user_header:
            statuses.setdefault(401, "Bearer token missing or refused (IDENTITY_MODE=jwt); WWW-Authenticate says why")
            op["security"] = [{}, {"fanToken": []}]
        if d.admin or getattr(route.handler, "__admin__", False):
            statuses.setdefault(401, "Admin token missing")
            statuses.setdefault(403, "Admin token wrong")
            op["security"] = [{"adminToken": []}]
        for status, text in sorted(statuses.items()):
            if 200 <= status < 300 and status != 204 and "content" in ok:
                op["responses"][str(status)] = {"description": text, "content": ok["content"]}  # the same document
            elif 200 <= status < 400:
                op["responses"][str(status)] = {"description": text}
            else:
                op["responses"][str(status)] = {"description": text, "content": {"application/problem+json": {"schema": PROBLEM_REF}}}
            if status == 429:
                op["responses"]["429"]["headers"] = {"Retry-After": {**_RETRY_AFTER, "required": True}}
            elif status == 503:
                op["responses"]["503"]["headers"] = {"Retry-After": _RETRY_AFTER}
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": "The TicketDrop ticket-drop API. Errors are RFC 9457 problem+json."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"},
                                "fanToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                             "description": "IDENTITY_MODE=jwt: a token from the identity provider"}},
        },
    }


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
    "required": ["type", "title", "status"],
}
