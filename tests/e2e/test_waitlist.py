"""A sold-out fan joins the waitlist in the browser, is offered the ticket when another fan's
payment fails, and buys it."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.e2e.a11y import announcements, check_screen, record_announcements


def test_a_sold_out_fan_joins_the_waitlist_gets_an_offer_when_a_payment_fails_and_buys(system, new_page):
    event = system.api().create_event("Neon Harbor", on_sale_in_s=2, tiers=[("Standing", 2500, 1)])
    tier_id = event["tiers"][0]["id"]
    holder = system.api(user=f"holder-{uuid.uuid4().hex[:8]}")
    e = event["id"]
    token = holder.post(f"/events/{e}/waiting-room/join").json()["token"]
    holder.wait_for("admission", lambda: holder.get(f"/events/{e}/waiting-room/status?token={token}").json().get("canEnter"))
    res = holder.post(f"/events/{e}/reservations", {"tier_id": tier_id, "quantity": 1, "token": token},
                      headers={"Prefer": "wait=5"}).json()
    holder.wait_for("the hold", lambda: holder.get(f"/reservations/{res['id']}").json()["status"] == "held")
    session = holder.post("/checkout/sessions", {"reservation_id": res["id"]},
                          headers={"Idempotency-Key": str(uuid.uuid4())}).json()

    page = new_page()
    page.goto(f"/#/events/{e}")
    expect(page.locator("tr[data-tier]")).to_contain_text("Sold out")
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.locator(".waitlist-join [role=status]")).to_contain_text("You are on the waitlist")

    holder.post("/checkout/confirm", {"checkoutId": session["checkoutId"], "simulate": "fail"}, headers={"Prefer": "wait=5"},
                expect=(200, 202, 409))

    record_announcements(page)  # the same document from here on: hash routes
    page.goto("/#/waitlist")
    buy = page.get_by_role("button", name="Buy now")
    expect(buy).to_be_visible(timeout=20_000)
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    check_screen(page, "waitlist-offer")
    # The offer is said once, with how long it is held (a time limit, like the hold's).
    offered = [text for text in announcements(page) if "offered" in text]
    assert len(offered) == 1 and re.fullmatch(r"Tickets are offered to you for Neon Harbor\. You have \d+ (minutes|seconds) to buy them\.", offered[0]), offered
    buy.click()
    checkout = page.locator("#checkout")
    expect(checkout).to_have_attribute("data-status", "open")
    page.get_by_role("button", name="Simulate successful payment").click()
    expect(checkout).to_have_attribute("data-status", "paid")
