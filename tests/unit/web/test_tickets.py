"""GET /me/tickets, GET /tickets/{code}/qr.svg, and the scanner's verify and check-in."""

from __future__ import annotations

import asyncio

from models import tickets
from models.tables import Ticket
from tests.unit.models.checkout_factories import make_order, make_tier
from web.dbexec import run_db
from web.schemas.checkout import ScanResult, UserTicketList

FAN = {"X-User-Id": "fan-1"}


async def issued(app, settings, user="fan-1", quantity=2) -> list[Ticket]:
    def make():
        order = make_order(make_tier(), user, quantity)
        tickets.issue_for_order(settings.secret_bytes, order.id)
        return list(Ticket.select().where(Ticket.order == order.id).order_by(Ticket.seq))

    return await run_db(app, make)


async def test_my_tickets_lists_every_ticket_with_event_tier_and_qr_payload(client, app, settings):
    mine = await issued(app, settings)
    await issued(app, settings, user="fan-2")
    resp = await client.get("/me/tickets", headers=FAN)
    body = await resp.json()
    assert resp.status == 200
    UserTicketList.model_validate(body)
    assert [t["code"] for t in body] == [t.code for t in mine]
    first = body[0]
    assert first["event"]["name"] == "Bad Bunny" and first["event"]["venue"] and first["event"]["starts_at"]
    assert first["tier"]["name"] == "Floor" and first["qr_payload"] == tickets.qr_payload(mine[0])


async def test_my_tickets_without_a_user_is_400(client):
    resp = await client.get("/me/tickets")
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "header.X-User-Id"


async def test_the_owner_gets_the_qr_code_as_svg_others_get_404(client, app, settings):
    code = (await issued(app, settings))[0].code
    resp = await client.get(f"/tickets/{code}/qr.svg", headers=FAN)
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert b"<svg" in await resp.read()
    assert (await client.get(f"/tickets/{code}/qr.svg", headers={"X-User-Id": "fan-2"})).status == 404
    assert (await client.get(f"/tickets/{code}/qr.svg")).status == 400


async def test_verify_needs_the_admin_token(client, app, settings):
    payload = tickets.qr_payload((await issued(app, settings))[0])
    assert (await client.post("/admin/tickets/verify", json={"payload": payload})).status == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.post("/admin/tickets/verify", json={"payload": payload}, headers=wrong)).status == 403


async def scan(client, action: str, payload: str, headers: dict[str, str]) -> tuple[int, dict]:
    """POST /admin/tickets/{action} (``verify`` or ``check-in``) with ``payload``: (status, body)."""
    resp = await client.post(f"/admin/tickets/{action}", json={"payload": payload}, headers=headers)
    return resp.status, await resp.json()


async def test_verify_reports_valid_and_invalid_signatures(client, app, settings, admin_headers):
    payload = tickets.qr_payload((await issued(app, settings))[0])
    status, body = await scan(client, "verify", payload, admin_headers)
    assert status == 200 and body["result"] == "valid"
    ScanResult.model_validate(body)
    _, body = await scan(client, "verify", payload[:-4] + "0000", admin_headers)
    assert (body["result"], body["checked_in_at"], body["ticket"]) == ("invalid_signature", None, None)


async def test_check_in_admits_once_and_then_says_when(client, app, settings, admin_headers):
    payload = tickets.qr_payload((await issued(app, settings))[0])
    status, admitted = await scan(client, "check-in", payload, admin_headers)
    assert status == 200 and admitted["result"] == "admitted"
    ScanResult.model_validate(admitted)
    status, problem = await scan(client, "check-in", payload, admin_headers)
    assert status == 409 and problem["result"] == "checked_in"
    assert problem["checked_in_at"] == admitted["checked_in_at"]
    _, verified = await scan(client, "verify", payload, admin_headers)
    assert verified["result"] == "checked_in" and verified["checked_in_at"] == admitted["checked_in_at"]


async def test_simultaneous_check_ins_admit_once(client, app, settings, admin_headers):
    payload = tickets.qr_payload((await issued(app, settings))[0])
    resps = await asyncio.gather(*(client.post("/admin/tickets/check-in", json={"payload": payload}, headers=admin_headers)
                                   for _ in range(10)))
    assert sorted(r.status for r in resps) == [200] + [409] * 9


async def test_checking_in_a_forged_or_void_ticket_is_refused(client, app, settings, admin_headers):
    ticket = (await issued(app, settings))[0]
    payload = tickets.qr_payload(ticket)
    forged = await client.post("/admin/tickets/check-in", json={"payload": payload + "x"}, headers=admin_headers)
    assert forged.status == 403 and (await forged.json())["result"] == "invalid_signature"
    await run_db(app, lambda: Ticket.update(status="void").where(Ticket.id == ticket.id).execute())
    void = await client.post("/admin/tickets/check-in", json={"payload": payload}, headers=admin_headers)
    assert void.status == 409 and (await void.json())["result"] == "void"


async def test_a_scan_without_a_payload_is_422(client, admin_headers):
    resp = await client.post("/admin/tickets/verify", json={}, headers=admin_headers)
    assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == "payload"


async def test_the_owner_gets_the_rotating_key_uncached_and_it_makes_codes_the_scanner_admits(client, app, settings,
                                                                                              admin_headers):
    from models import ticket_codes
    from web.schemas.checkout import RotatingKey

    code = (await issued(app, settings))[0].code
    resp = await client.get(f"/me/tickets/{code}/rotating", headers=FAN)
    key = await resp.json()
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    RotatingKey.model_validate(key)
    assert (await client.get(f"/me/tickets/{code}/rotating", headers={"X-User-Id": "fan-2"})).status == 404
    listed = await (await client.get("/me/tickets", headers=FAN)).json()
    assert key["secret"] not in repr(listed)
    live = ticket_codes.rotating_code(key["secret"], code, ticket_codes.current_step(key["rotate_s"]))
    resp = await client.post("/admin/tickets/check-in", json={"payload": live}, headers=admin_headers)
    assert resp.status == 200 and (await resp.json())["result"] == "admitted"


async def test_a_stale_rotating_code_is_403_expired_with_the_words_for_the_fan(client, app, settings, admin_headers):
    from models import ticket_codes

    code = (await issued(app, settings))[0].code
    key = await (await client.get(f"/me/tickets/{code}/rotating", headers=FAN)).json()
    stale = ticket_codes.rotating_code(key["secret"], code, ticket_codes.current_step(key["rotate_s"]) - 3)
    resp = await client.post("/admin/tickets/check-in", json={"payload": stale}, headers=admin_headers)
    body = await resp.json()
    assert resp.status == 403 and body["result"] == "expired"
    assert body["detail"] == "expired code: ask the fan to show the live ticket"
    verified = await (await client.post("/admin/tickets/verify", json={"payload": stale}, headers=admin_headers)).json()
    ScanResult.model_validate(verified)
    assert verified["result"] == "expired" and verified["message"] == body["detail"]


async def test_transfer_moves_the_ticket_to_the_receivers_list_and_the_old_owner_loses_it(client, app, settings):
    from web.schemas.checkout import TransferDocument

    code = (await issued(app, settings, quantity=1))[0].code
    resp = await client.post(f"/me/tickets/{code}/transfer", json={"to_user": "fan-2"}, headers=FAN)
    assert resp.status == 200, await resp.text()
    TransferDocument.model_validate(await resp.json())
    assert await (await client.get("/me/tickets", headers=FAN)).json() == []
    theirs = await (await client.get("/me/tickets", headers={"X-User-Id": "fan-2"})).json()
    assert [t["code"] for t in theirs] == [code]
    assert (await client.get(f"/me/tickets/{code}/rotating", headers=FAN)).status == 404
    again = await client.post(f"/me/tickets/{code}/transfer", json={"to_user": "fan-2"}, headers=FAN)
    assert again.status == 200 and await again.json() == await resp.json()


async def test_transfer_errors_name_the_field(client, app, settings):
    code = (await issued(app, settings, quantity=1))[0].code
    cases = [({"to_user": "fan-1"}, 422, "to_user"), ({}, 422, "to_user"), ({"to_user": "a b"}, 422, "to_user")]
    for body, status, field in cases:
        resp = await client.post(f"/me/tickets/{code}/transfer", json=body, headers=FAN)
        assert resp.status == status and (await resp.json())["errors"][0]["field"] == field, body
    resp = await client.post("/me/tickets/nope/transfer", json={"to_user": "fan-2"}, headers=FAN)
    assert resp.status == 404 and (await resp.json())["errors"][0]["field"] == "path.code"
