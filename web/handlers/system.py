"""Health, the OpenAPI document and its human-readable page."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import time
import uuid

from aiohttp import web

from models.db import database
from models.errors import Unavailable
from web import responses
from web.appkeys import ACTORS, BROKER, KEYS, REDIS
from web.dbexec import run_db
from web.openapi import build_document, doc
from workers.broker import ping_broker

routes = web.RouteTableDef()

#: How long the deep health check waits for a worker to answer, in seconds.
DEEP_CHECK_TIMEOUT_S = 3.0


def _ping_database() -> None:
    database.execute_sql("SELECT 1").fetchone()


async def _check(name: str, coro) -> tuple[str, str]:
    try:
        await asyncio.wait_for(coro, timeout=3)
        return name, "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure
        return name, f"down: {type(exc).__name__}"


@routes.get("/health")
@doc("Health of the database, Redis and the broker (?deep=1 also round-trips a worker)", tags=["system"],
     response={"type": "object", "required": ["status", "checks", "worker"], "properties": {
         "status": {"const": "ok"},
         "checks": {"type": "object", "additionalProperties": {"type": "string"}, "description": "database, redis, broker: ok"},
         "worker": {"type": "object", "description": "last_heartbeat_s_ago; echo (with ?deep=1)"}}},
     responses={503: "A dependency is down"})
async def health(request: web.Request) -> web.Response:
    app = request.app
    loop = asyncio.get_running_loop()
    checks = dict(
        await asyncio.gather(
            _check("database", run_db(app, _ping_database)),
            _check("redis", app[REDIS].ping()),
            _check("broker", loop.run_in_executor(None, ping_broker, app[BROKER])),
        )
    )
    worker = await _worker_status(request, deep=request.query.get("deep") in {"1", "true"})
    down = sorted(name for name, state in checks.items() if state != "ok")
    if request.query.get("deep") in {"1", "true"} and worker.get("echo") != "ok":
        down.append("worker")
    if down:
        raise Unavailable(f"Down: {', '.join(down)}", retry_after=5, checks=checks, worker=worker)
    return responses.json({"status": "ok", "checks": checks, "worker": worker})


async def _worker_status(request: web.Request, *, deep: bool) -> dict:
    """Last worker heartbeat; with ``deep`` also send an echo command and wait for its answer."""
    redis, keys = request.app[REDIS], request.app[KEYS]
    status: dict = {}
    try:
        beat = await redis.get(keys.worker_heartbeat())
        status["last_heartbeat_s_ago"] = round(time.time() - float(beat), 1) if beat else None
        if deep:
            nonce = uuid.uuid4().hex
            request.app[ACTORS].echo.send(nonce)
            deadline = time.monotonic() + DEEP_CHECK_TIMEOUT_S
            status["echo"] = "timeout"
            while time.monotonic() < deadline:
                if await redis.get(keys.health_echo(nonce)):
                    status["echo"] = "ok"
                    break
                await asyncio.sleep(0.05)
    except Exception as exc:  # noqa: BLE001
        status["error"] = type(exc).__name__
    return status


@routes.get("/openapi.json")
@doc("This OpenAPI 3.1 document", tags=["system"],
     response={"type": "object", "required": ["openapi", "info", "paths"], "description": "An OpenAPI 3.1 document"})
async def openapi(request: web.Request) -> web.Response:
    return responses.json(build_document(request.app))


_DOCS_STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}"
               "td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}")
#: The docs page runs no script and loads nothing; its one inline style is allowed by its hash.
DOCS_CSP = (f"default-src 'none'; style-src 'sha256-{base64.b64encode(hashlib.sha256(_DOCS_STYLE.encode()).digest()).decode()}'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@routes.get("/docs")
@doc("Human-readable API documentation", tags=["system"], content_type="text/html")
async def docs_page(request: web.Request) -> web.Response:
    document = build_document(request.app)
    rows = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            statuses = ", ".join(op["responses"].keys())
            auth = " (admin)" if op.get("security") else ""
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}{auth}</td><td>{statuses}</td></tr>"
            )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>TicketDrop API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_DOCS_STYLE}</style></head>
<body><h1>TicketDrop API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
Errors are RFC 9457 <code>application/problem+json</code>; admin routes need <code>Authorization: Bearer $ADMIN_TOKEN</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>What</th><th>Statuses</th></tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>"""
    return web.Response(text=page, content_type="text/html",
                        headers={"Content-Security-Policy": DOCS_CSP, "Referrer-Policy": "same-origin"})
