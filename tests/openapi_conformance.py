"""Every JSON answer of the test app is checked against the OpenAPI document the app serves:
the route's documented schema for that status. A test middleware records what does not
conform, and the ``app`` fixture fails the test that saw it (tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from jsonschema import FormatChecker
from openapi_schema_validator import OAS31Validator

#: The app's own record of answers that broke the document.
VIOLATIONS = web.AppKey("openapi_violations", list)
#: Routes not described by the document (the pages, the document itself, metrics).
_UNDOCUMENTED_OK = (500,)


#: The document, built from the app's routes on the first answer (the router is complete then).
_DOCUMENT = web.AppKey("openapi_conformance_document", dict)


def install(app: web.Application) -> None:
    """Check every answer of ``app`` (call before the app starts)."""
    app[VIOLATIONS] = []
    app[_DOCUMENT] = {}
    app.middlewares.insert(0, _conformance)


def _document(app: web.Application) -> dict:
    from web.openapi import build_document

    cached = app[_DOCUMENT]
    if not cached:
        cached.update(build_document(app))
    return cached


@web.middleware
async def _conformance(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    problem = check(request, response)
    if problem is not None:
        request.app[VIOLATIONS].append(problem)
    return response


def check(request: web.Request, response: web.StreamResponse) -> str | None:
    """Why ``response`` breaks the document, or None (also for routes it does not describe)."""
    route = request.match_info.route
    path = route.resource.canonical if route.resource is not None else ""
    operation = _document(request.app)["paths"].get(path, {}).get(request.method.lower())
    if operation is None or not isinstance(response, web.Response):
        return None
    where = f"{request.method} {path} -> {response.status}"
    documented = operation["responses"].get(str(response.status))
    if documented is None:
        return None if response.status in _UNDOCUMENTED_OK else f"{where}: status not documented"
    content_type = response.content_type
    if response.status == 304 or not response.body or not content_type.endswith("json"):
        return None
    media = documented.get("content", {}).get(content_type)
    if media is None:
        return f"{where}: {content_type} not documented"
    schema = {**media["schema"], "components": _document(request.app).get("components", {})}
    body = orjson.loads(response.body)
    errors = sorted(OAS31Validator(schema, format_checker=FormatChecker()).iter_errors(body), key=str)
    if errors:
        first = errors[0]
        return f"{where}: {'/'.join(map(str, first.absolute_path)) or 'body'}: {first.message}"
    return None
