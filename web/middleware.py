"""Cross-cutting middleware: request ids, CORS, security headers."""

from __future__ import annotations

from aiohttp import web

from models.context import clean_request_id, request_id_var
from web.appkeys import REQUEST_ID, SETTINGS


@web.middleware
async def request_id_middleware(request: web.Request, handler):
    rid = clean_request_id(request.headers.get("X-Request-Id"))
    request[REQUEST_ID] = rid
    token = request_id_var.set(rid)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = rid
        raise
    finally:
        request_id_var.reset(token)
    response.headers["X-Request-Id"] = rid
    return response


_CORS_HEADERS = "Authorization, Content-Type, X-User-Id, Idempotency-Key, Prefer, X-Request-Id"
_CORS_EXPOSE = "Location, Retry-After, X-Request-Id, Idempotent-Replayed, RateLimit, RateLimit-Policy, Preference-Applied"


@web.middleware
async def cors_middleware(request: web.Request, handler):
    origin = request.headers.get("Origin")
    allowed = request.app[SETTINGS].cors_origins
    ok = origin is not None and ("*" in allowed or origin in allowed)
    if request.method == "OPTIONS" and ok and "Access-Control-Request-Method" in request.headers:
        response = web.Response(status=204)
    else:
        response = await handler(request)
    if ok:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = _CORS_EXPOSE
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = _CORS_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
