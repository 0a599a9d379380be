"""The browser UI: static files from frontend/, no build step."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(FRONTEND_DIR / "index.html")


routes.static("/ui", FRONTEND_DIR, append_version=False)
