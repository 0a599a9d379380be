"""The waiting room in a real browser while the fan is still in line: when the operator pauses
and resumes the sale, and when the fan's connection drops and comes back."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.e2e.a11y import announcements, check_screen, record_announcements


def test_a_fan_in_line_sees_their_place_the_pause_and_resume_and_a_lost_connection(system, page):
    admin = system.api()
    # Waves of two a minute: the fan who joins seventh stays in line for the whole test.
    event = admin.create_event("Harbour Lights Festival", on_sale_in_s=1, tiers=[("Day pass", 6500, 100)],
                               wave_size=2, wave_interval_s=60)
    time.sleep(1.5)  # after on-sale, places follow arrival order
    for i in range(6):
        system.api(user=f"e2e-early-fan-{i}").post(f"/events/{event['id']}/waiting-room/join")

    page.goto(f"/#/events/{event['id']}/room")
    room = page.locator("#room")
    expect(room).to_have_attribute("data-phase", "queued")
    expect(page.locator("#position")).to_have_text("7")
    expect(room).to_contain_text(re.compile(r"Ahead of you\s*[1-6]"))
    progress = page.get_by_role("progressbar", name="Progress through the line")
    expect(progress).to_have_attribute("aria-valuenow", re.compile(r"^\d+$"))
    check_screen(page, "waiting-room-queued")

    admin.post(f"/admin/events/{event['id']}/pause", admin=True)
    expect(room).to_have_attribute("data-phase", "paused", timeout=10_000)
    expect(page.get_by_role("heading", name="The sale is paused")).to_be_focused()
    check_screen(page, "waiting-room-paused")

    admin.post(f"/admin/events/{event['id']}/resume", admin=True)
    expect(room).to_have_attribute("data-phase", "queued", timeout=10_000)
    expect(page.locator("#position")).to_have_text("7")

    record_announcements(page)
    page.context.set_offline(True)
    expect(page.locator("#connection")).to_contain_text("Offline", timeout=10_000)
    # The indicator says it (once, below); the page's notice is for eyes, not a second alert.
    notice = page.locator(".notice-error")
    expect(notice).to_contain_text("cannot reach TicketDrop")
    expect(notice).not_to_have_attribute("role", "alert")
    check_screen(page, "waiting-room-offline")
    page.context.set_offline(False)
    expect(page.locator("#connection")).to_contain_text("Online", timeout=20_000)
    expect(notice).to_have_count(0, timeout=20_000)
    expect(page.locator("#position")).to_have_text("7")
    # The drop and the recovery are each said once.
    said = announcements(page)
    assert sum("Offline" in text or "cannot reach" in text for text in said) == 1, said
    assert said.count("Connection restored.") == 1, said
