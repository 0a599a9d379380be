"""The browser UI is served from frontend/: two pages, their assets, nothing else."""

from __future__ import annotations

import pytest


async def test_the_fan_page_is_served_at_the_root_with_a_content_security_policy(client):
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "/ui/js/fan.js" in await resp.text()
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


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
