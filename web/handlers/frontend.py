"""The browser UI: plain files from frontend/, no build step.

``/`` is the fan page and ``/admin`` the operator console; each is a single page with hash
routes (``#/events/<id>``), so screens need no server routes. Assets live under ``/ui/``.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

from aiohttp import web

from models.errors import NotFound
from web.appkeys import SETTINGS
from web.openapi import doc

FRONTEND_DIR = (Path(__file__).resolve().parents[2] / "frontend").resolve()

#: Asset types we serve; anything else under /ui/ is a 404 (no directory listings, no dotfiles).
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

#: The pages load only our own files; QR codes arrive as blob: images.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)

routes = web.RouteTableDef()


#: No fingerprinted names without a build step: browsers revalidate (ETag/Last-Modified).
_HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": CSP, "Referrer-Policy": "same-origin"}


def _file(path: Path) -> web.FileResponse:
    response = web.FileResponse(path, headers=_HEADERS)
    response.content_type = CONTENT_TYPES[path.suffix]
    return response


#: Where the fan page loads its own code; UI_TOKEN_SCRIPT's tag goes just before it.
_FAN_MODULE = '<script type="module" src="/ui/js/fan.js"></script>'


@functools.lru_cache(maxsize=4)
def _with_token_script(path: str) -> bytes:
    """index.html loading the host application's sign-in script (a classic script: it runs
    before the page's modules, so window.TicketDrop.getToken is there for their first request)."""
    page = (FRONTEND_DIR / "index.html").read_text()
    if _FAN_MODULE not in page:
        raise RuntimeError(f"frontend/index.html no longer loads {_FAN_MODULE}")
    return page.replace(_FAN_MODULE, f'<script src="{html.escape(path)}"></script>\n  {_FAN_MODULE}').encode()


@routes.get("/")
@doc("The fan web page (events, waiting room, checkout, tickets)", tags=["ui"], content_type="text/html")
async def fan_page(request: web.Request) -> web.StreamResponse:
    script = request.app[SETTINGS].ui_token_script
    if not script:
        return _file(FRONTEND_DIR / "index.html")
    return web.Response(body=_with_token_script(script), content_type="text/html", charset="utf-8", headers=_HEADERS)


@routes.get("/admin")
@doc("The operator console (events, tiers, live dashboard, ticket scanner)", tags=["ui"], content_type="text/html")
async def admin_page(request: web.Request) -> web.FileResponse:
    return _file(FRONTEND_DIR / "admin.html")


@routes.get("/ui/{path:.+}")
@doc("Static assets of the web pages (ES modules, CSS)", tags=["ui"], content_type="text/plain",
     responses={404: "No such asset"})
async def asset(request: web.Request) -> web.FileResponse:
    """Serve one file under frontend/. Raises NotFound for anything outside it or of an unknown type."""
    relative = request.match_info["path"]
    if "\x00" in relative:  # the file system cannot name it (os.stat raises ValueError)
        raise NotFound("No such asset", field="path.path")
    target = (FRONTEND_DIR / relative).resolve()
    if (
        not target.is_relative_to(FRONTEND_DIR)
        or any(part.startswith(".") for part in Path(relative).parts)
        or target.suffix not in CONTENT_TYPES
        or not target.is_file()
    ):
        raise NotFound("No such asset", field="path.path")
    return _file(target)
