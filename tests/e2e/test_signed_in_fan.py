"""A signed-in fan in production identity mode (IDENTITY_MODE=jwt): the fan page loads the host
application's UI_TOKEN_SCRIPT first, which defines window.TicketDrop.getToken(), and the page
sends that token as the bearer token on every fan request (never X-User-Id); the fan's tickets
are the token's subject's, live QR included. The host application behind the proxy is played
by the browser's request routing: it answers the script and its token endpoint, as in docs/ui.md."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, running_system
from tests.identity_keys import AUDIENCE, HS_SECRET, ISSUER, Provider

SUBJECT = "idp|e2e-signed-in-fan"
TOKEN_SCRIPT = "/auth/ticketdrop-token.js"
#: docs/ui.md's example script, as written there.
HOOK = re.search(r"```js\n(// /auth/ticketdrop-token\.js .*?)```", (ROOT / "docs" / "ui.md").read_text(), re.S).group(1)


@pytest.fixture(scope="module")
def jwt_system(tmp_path_factory):
    with running_system(tmp_path_factory.mktemp("e2e-jwt"), IDENTITY_MODE="jwt", JWT_ISSUER=ISSUER,
                        JWT_AUDIENCE=AUDIENCE, JWT_SECRET=HS_SECRET, UI_TOKEN_SCRIPT=TOKEN_SCRIPT) as sysm:
        yield sysm


def test_the_page_sends_the_host_applications_token_and_shows_the_subjects_live_ticket(jwt_system, new_page):
    token = Provider().token(SUBJECT, alg="HS256", ttl_s=600)
    api = jwt_system.api(token=token)
    assert api.get("/me/tickets", headers={"X-User-Id": SUBJECT}, expect=(400,)).status == 400
    event = api.create_event("Signed-in Night", on_sale_in_s=1, tiers=[("Floor", 5_000, 20)], ticket_mode="rotating")
    ticket = api.buy_ticket(event["id"], api.get(f"/events/{event['id']}").json()["tiers"][0]["id"])

    fan = new_page()
    fan.route(f"**{TOKEN_SCRIPT}", lambda route: route.fulfill(body=HOOK, content_type="text/javascript"))
    fan.route("**/auth/token", lambda route: route.fulfill(body=token, content_type="text/plain"))
    sent = []
    fan.on("request", lambda r: sent.append((r.url, r.headers)) if "/me/" in r.url else None)
    fan.goto(jwt_system.base_url + "/#/tickets")
    card = fan.locator(f'.ticket[data-code="{ticket["code"]}"]')
    expect(card.locator(".qr-live")).to_be_visible()
    assert card.locator(".qr-live").get_attribute("data-payload").startswith(ticket["code"] + ".")
    expect(fan.locator("#who")).to_have_text("your signed-in account")
    assert {url.split("?")[0].removeprefix(jwt_system.base_url) for url, _ in sent} >= {
        "/me/tickets", f"/me/tickets/{ticket['code']}/rotating"}
    for url, headers in sent:
        assert headers.get("authorization") == f"Bearer {token}" and "x-user-id" not in headers, url
