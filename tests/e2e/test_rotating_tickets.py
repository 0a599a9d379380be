"""A fan's live ticket in a real browser: the QR is drawn on the device and changes every step;
the door scanner refuses a code three steps old with the words for the fan, and admits the live one."""

from __future__ import annotations

from playwright.sync_api import expect

from models import ticket_codes

FAN = "e2e-rotating-fan"


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
