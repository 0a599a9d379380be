"""Handlers (filled in by their issue)."""

from aiohttp import web

routes = web.RouteTableDef()
