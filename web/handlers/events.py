"""Public catalogue: the events fans can see (drafts never show) and their tiers."""

from __future__ import annotations

from aiohttp import web

from models import catalog
from web import responses
from web.dbexec import run_db
from web.openapi import doc
from web.parse import path_uuid
from web.schemas.catalog_responses import EventDetail, EventSummaryList

routes = web.RouteTableDef()


@routes.get("/events")
@doc("Every public (non-draft) event with its price range and sold-out flag", tags=["events"], response=EventSummaryList)
async def list_events(request: web.Request) -> web.Response:
    return responses.json(await run_db(request.app, catalog.public_catalog))


@routes.get("/events/{id}")
@doc("One public event with its tiers, cheapest first", tags=["events"], response=EventDetail,
     responses={404: "Unknown event, draft, or malformed id"})
async def get_event(request: web.Request) -> web.Response:
    event_id = path_uuid(request, "id")
    return responses.json(await run_db(request.app, catalog.public_event_document, event_id))
