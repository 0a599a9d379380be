"""The route table: each domain's handler module contributes its ``routes``."""

from __future__ import annotations

from aiohttp import web

from web.handlers import (
    admin_catalog,
    checkout,
    events,
    frontend,
    ops,
    reservations,
    system,
    tickets,
    waiting_room,
    waitlist,
)

#: Registration order is resolution order among routes sharing a first segment: aiohttp tries
#: every ``/events/...`` resource in turn, so the waiting room (the flood of a drop) goes first.
#: (web.eventroutes finds ``/events/{id}/<tail>`` routes by their tail first, in the same order.)
MODULES = (waiting_room, system, events, admin_catalog, reservations, waitlist, checkout, tickets, ops, frontend)


def setup(app: web.Application) -> None:
    for module in MODULES:
        app.add_routes(module.routes)
