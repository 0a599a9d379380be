"""An operator in a real browser: sign in, create an event with tiers, publish it, open the
sale, pause and resume it from the live dashboard, and check a ticket in at the door."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.e2e.a11y import announcements, check_screen, record_announcements

VENUE_ZONE = "Asia/Tokyo"


def _venue_clock(dt: datetime) -> str:
    # Times are typed on the venue's clock, whatever zone the browser is in (UTC here).
    return dt.astimezone(ZoneInfo(VENUE_ZONE)).strftime("%Y-%m-%dT%H:%M:%S")


def phone_sized(page, measure: str, *, settle_ms: int = 300):
    """``measure`` evaluated with the page 360 px wide (then the width is put back)."""
    size = page.viewport_size
    page.set_viewport_size({"width": 360, "height": size["height"]})
    try:
        page.wait_for_timeout(settle_ms)
        return page.evaluate(measure)
    finally:
        page.set_viewport_size(size)


def test_an_operator_creates_publishes_pauses_resumes_an_event_and_checks_in_a_ticket(system, page):
    page.goto("/admin")
    token = page.get_by_label("Admin token")
    expect(token).to_be_focused()
    token.fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    check_screen(page, "admin-sign-in")
    token.fill(system.admin_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Events")).to_be_visible()
    expect(page.locator("#admin-events tbody tr").first).to_be_visible()
    check_screen(page, "admin-events")

    page.get_by_role("navigation", name="Operators").get_by_role("link", name="New event").click()
    page.get_by_label("Name").fill("Night Market Sessions")
    page.get_by_label("Venue", exact=True).fill("Pier 9, Harbourside")
    page.get_by_label("Venue time zone").fill(VENUE_ZONE)
    page.get_by_label("Description").fill("Three stages, forty food stalls, one long night.")
    now = datetime.now(UTC).replace(microsecond=0)
    starts_at = now + timedelta(days=40)
    page.get_by_label("Doors / start").fill(_venue_clock(starts_at))
    page.get_by_label("Sale opens").fill(_venue_clock(now + timedelta(seconds=3)))
    page.get_by_label("Wave size").fill("20")
    page.get_by_label("Seconds between waves").fill("1")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("heading", level=1, name="Night Market Sessions")).to_be_visible()
    expect(page.locator("#event-status")).to_contain_text("Draft")

    for name, price, capacity in (("Floor", "59.00", "20"), ("Balcony", "35.50", "30")):
        page.get_by_label("Tier name").fill(name)
        page.get_by_label("Price ($)").fill(price)
        page.get_by_label("Capacity", exact=True).fill(capacity)
        page.get_by_role("button", name="Add tier").click()
        expect(page.locator("#tiers tbody tr")).to_have_count(1 if name == "Floor" else 2)

    page.get_by_role("button", name="Publish (scheduled)").click()
    expect(page.locator("#event-status")).to_contain_text("Scheduled")
    page.get_by_role("button", name="Open the sale now").click()
    expect(page.locator("#event-status")).to_contain_text("On sale")
    check_screen(page, "admin-event")
    assert phone_sized(page, "() => Math.min(...[...document.querySelectorAll('#tiers input')].map(i => i.getBoundingClientRect().width))") >= 88, \
        "the tier inputs shrink below 88 px on a 360 px screen"
    event_id = page.evaluate("() => location.hash.split('/')[2]")
    stored = system.api().get(f"/admin/events/{event_id}", admin=True).json()
    assert (stored["timezone"], stored["starts_at"]) == (VENUE_ZONE, starts_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"))

    page.get_by_role("link", name="Live dashboard").click()
    expect(page.locator("#kpi-remaining")).to_contain_text("50")
    toggle = page.locator("#pause-toggle")
    expect(toggle).to_have_text("Pause the sale")
    toggle.click()
    expect(page.locator("#event-status")).to_contain_text("Paused")
    expect(toggle).to_have_text("Resume the sale")
    fan = system.api(user="e2e-paused-fan")
    token_id = fan.post(f"/events/{event_id}/waiting-room/join").json()["token"]
    fan.wait_for("the paused state", lambda: fan.get(f"/events/{event_id}/waiting-room/status?token={token_id}").json()["state"] == "paused")
    toggle.click()
    expect(toggle).to_have_text("Pause the sale")
    expect(page.locator("#event-status")).not_to_contain_text("Paused")

    page.get_by_label("Wave size (fans)").fill("25")
    page.get_by_label("Seconds between waves").fill("2")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Waves: 25 fans every 2 s")).to_be_visible()

    buyer = system.api(user="e2e-door-fan")
    tiers = buyer.get(f"/events/{event_id}").json()["tiers"]
    ticket = buyer.buy_ticket(event_id, tiers[0]["id"])
    expect(page.locator("#kpi-sold")).to_contain_text("1", timeout=15_000)
    page.wait_for_timeout(2500)  # a few more samples for the charts
    check_screen(page, "admin-dashboard")
    # Charts are drawn at their real width, so their labels stay 12 px on a phone (after the next poll redraws them).
    label_px = "() => Math.min(...[...document.querySelectorAll('.chart-label')].map(t => t.getBoundingClientRect().height))"
    assert phone_sized(page, label_px, settle_ms=2500) >= 11, "chart labels shrink below 11 px on a 360 px screen"

    record_announcements(page)  # the same document from here on: hash routes
    page.get_by_role("navigation", name="Operators").get_by_role("link", name="Scanner").click()
    payload = page.get_by_label("QR payload")
    payload.fill(ticket["qr_payload"])
    page.get_by_role("button", name="Verify").click()
    result = page.locator("#scan-result")
    expect(result).to_contain_text("Valid ticket")
    page.get_by_role("button", name="Check in").click()
    expect(result).to_contain_text("Checked in")
    check_screen(page, "admin-scanner")
    page.get_by_role("button", name="Check in").click()
    expect(result).to_contain_text("Already checked in")
    payload.fill(ticket["qr_payload"][:-4] + "AAAA")
    page.get_by_role("button", name="Verify").click()
    expect(result).to_contain_text(re.compile("Not a genuine ticket|not valid|invalid", re.I))
    check_screen(page, "admin-scanner-refused", screenshot=False)
    # Each verdict is said once, by the announcer (the result box is not a live region too).
    said = [text for text in announcements(page) if not text.startswith("Connection")]
    assert said == ["Valid ticket. Not checked in yet.", "Checked in. Let them in.", "Warning: this ticket was already checked in.",
                    "Rejected: the signature does not match."], said
