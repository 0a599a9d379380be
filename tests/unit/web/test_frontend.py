"""The browser UI is served from frontend/: two pages, their assets, nothing else."""

from __future__ import annotations

import pytest

from tests.identity_keys import jwt_settings
from web.handlers.frontend import CSP


async def test_the_fan_page_is_served_at_the_root_with_a_content_security_policy(client):
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "/ui/js/fan.js" in await resp.text()
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_with_ui_token_script_the_fan_page_loads_the_host_applications_script_before_its_own(
        aiohttp_client, settings, aredis, db, stub_broker, runtime):
    from web.app import create_app

    signed_in = jwt_settings(settings, ui_token_script="/auth/ticketdrop-token.js?v=2&x=1")
    client = await aiohttp_client(create_app(signed_in, redis=aredis, broker=stub_broker, bind_db=False))
    resp = await client.get("/")
    page = await resp.text()
    hook = page.index('<script src="/auth/ticketdrop-token.js?v=2&amp;x=1"></script>')
    assert resp.status == 200 and resp.content_type == "text/html"
    assert 0 < hook < page.index('<script type="module" src="/ui/js/fan.js">')
    assert resp.headers["Content-Security-Policy"] == CSP


async def test_the_operator_console_is_served_at_admin(client):
    resp = await client.get("/admin")
    assert resp.status == 200
    assert "/ui/js/admin.js" in await resp.text()


async def test_es_modules_are_served_as_javascript_for_revalidation(client):
    resp = await client.get("/ui/js/fan.js")
    assert resp.status == 200
    assert resp.content_type == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/ui/../web/app.py", "/ui/%2e%2e/web/app.py", "/ui/js/nothing.js", "/ui/js", "/ui/.hidden.js"])
async def test_paths_outside_the_assets_or_unknown_files_are_404_problems(client, path):
    resp = await client.get(path)
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
