"""A fan's live ticket in a real browser: the QR is drawn on the device and changes every step;
the door scanner refuses a code three steps old with the words for the fan, and admits the live one.
Printed, a ticket carries the static QR where the gate takes it, and otherwise says to show it live."""

from __future__ import annotations

from playwright.sync_api import expect

from models import ticket_codes

FAN = "e2e-rotating-fan"
PRINTING_FAN = "e2e-printing-fan"


def test_the_live_qr_changes_every_step_and_the_scanner_refuses_a_stale_code(system, new_page):
    api = system.api(user=FAN)
    event = api.create_event("Live Code Night", on_sale_in_s=1, tiers=[("Floor", 5_000, 20)], ticket_mode="rotating")
    tier_id = api.get(f"/events/{event['id']}").json()["tiers"][0]["id"]
    ticket = api.buy_ticket(event["id"], tier_id)

    fan = new_page()
    fan.goto("/")
    fan.evaluate(f"() => localStorage.setItem('ticketdrop.userId', '{FAN}')")
    fan.goto("/#/tickets")
    live = fan.locator(f'.ticket[data-code="{ticket["code"]}"] .qr-live')
    expect(live).to_be_visible()
    expect(fan.locator(f'.ticket[data-code="{ticket["code"]}"] .qr img')).to_be_visible()
    first = live.get_attribute("data-payload")
    assert first.startswith(ticket["code"] + ".")
    fan.wait_for_function("([sel, old]) => document.querySelector(sel)?.dataset.payload !== old",
                          arg=[f'.ticket[data-code="{ticket["code"]}"] .qr-live', first], timeout=12_000)
    second = live.get_attribute("data-payload")
    assert second != first and int(second.split(".")[1]) > int(first.split(".")[1])

    key = api.get(f"/me/tickets/{ticket['code']}/rotating").json()
    stale = ticket_codes.rotating_code(key["secret"], ticket["code"], key["step"] - 3)
    desk = new_page()
    desk.goto("/admin")
    desk.get_by_label("Admin token").fill(system.admin_token)
    desk.get_by_role("button", name="Sign in").click()
    expect(desk.get_by_role("heading", level=1, name="Events")).to_be_visible()
    desk.get_by_role("navigation", name="Operators").get_by_role("link", name="Scanner").click()
    payload = desk.get_by_label("QR payload")
    result = desk.locator("#scan-result")
    payload.fill(stale)
    desk.get_by_role("button", name="Check in").click()
    expect(result).to_contain_text("Expired code")
    expect(result).to_contain_text("expired code: ask the fan to show the live ticket")
    payload.fill(live.get_attribute("data-payload"))
    desk.get_by_role("button", name="Check in").click()
    expect(result).to_contain_text("Checked in")


def test_a_printed_ticket_carries_the_static_qr_where_the_gate_takes_it_and_otherwise_says_to_show_it_live(system, new_page):
    api = system.api(user=PRINTING_FAN)
    codes = {}
    for mode in ("both", "rotating", "static"):
        event = api.create_event(f"Print Night ({mode})", on_sale_in_s=1, tiers=[("Floor", 5_000, 20)], ticket_mode=mode)
        codes[mode] = api.buy_ticket(event["id"], api.get(f"/events/{event['id']}").json()["tiers"][0]["id"])["code"]

    fan = new_page()
    fan.goto("/")
    fan.evaluate(f"() => localStorage.setItem('ticketdrop.userId', '{PRINTING_FAN}')")
    fan.goto("/#/tickets")
    card = {mode: fan.locator(f'.ticket[data-code="{code}"]') for mode, code in codes.items()}
    live = {mode: card[mode].locator(".qr-live") for mode in ("both", "rotating")}
    static = {mode: card[mode].locator(f'img[alt="QR code of ticket {codes[mode]}"]') for mode in ("both", "static")}
    must_show_live = card["rotating"].get_by_text("Printed codes are not accepted at this event")

    expect(live["both"]).to_be_visible()
    expect(live["rotating"]).to_be_visible()
    expect(static["static"]).to_be_visible()
    expect(static["both"]).to_be_hidden()
    expect(must_show_live).to_be_hidden()
    # The static QR of a both-ticket is loaded before printing: a print cannot wait for the network.
    fan.wait_for_function("sel => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }",
                          arg=f'.ticket[data-code="{codes["both"]}"] img[alt="QR code of ticket {codes["both"]}"]')

    fan.emulate_media(media="print")
    expect(live["both"]).to_be_hidden()
    expect(card["both"].locator(f'img[alt="Live QR code of ticket {codes["both"]}"]')).to_be_hidden()
    expect(static["both"]).to_be_visible()
    expect(live["rotating"]).to_be_hidden()
    expect(card["rotating"].locator("img")).to_be_hidden()
    expect(must_show_live).to_be_visible()
    expect(must_show_live).to_contain_text("show this ticket live on your phone")
    expect(static["static"]).to_be_visible()
    fan.emulate_media(media="screen")
    expect(live["both"]).to_be_visible()
