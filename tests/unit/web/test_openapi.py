"""The served OpenAPI document is valid and covers every route of the app."""

from __future__ import annotations

from aiohttp import web
from openapi_spec_validator import validate


async def test_the_openapi_document_is_valid_openapi_3_1(client):
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    document = await resp.json()
    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_every_route_is_documented_with_its_method(client):
    document = await (await client.get("/openapi.json")).json()
    missing = []
    for route in client.server.app.router.routes():
        if route.method == "HEAD" or isinstance(route.resource, web.StaticResource):
            continue
        path = route.resource.canonical
        if route.method.lower() not in document["paths"].get(path, {}):
            missing.append(f"{route.method} {path}")
    assert missing == []


async def test_admin_routes_are_documented_as_needing_the_admin_token(client):
    document = await (await client.get("/openapi.json")).json()
    operation = document["paths"]["/admin/events/{id}"]["patch"]
    assert operation["security"] == [{"adminToken": []}]
    assert {"401", "403", "404", "409", "422"} <= set(operation["responses"])
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EventPatch"}
