"""Keyboard and screen-reader use in a real browser: a purchase with the keyboard alone, the skip
link, focus kept across a list refresh, each state change announced once, and the screens no
journey reaches checked with axe-core (WCAG 2.1 A/AA) at 1280 px and 360 px."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.a11y import announcements, check_screen, lowest_field_edge_contrast, record_announcements, undecided_contrast

QR_LOADED = """sel => {
  const imgs = [...document.querySelectorAll(sel)];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""
#: Tab presses allowed to reach one control (the whole fan page has fewer stops than this).
MAX_TABS = 60


def tab_to(page, locator, *, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab) until ``locator`` has focus, as a keyboard user would."""
    for _ in range(MAX_TABS):
        if locator.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{locator} was not reached with {MAX_TABS} presses of Tab")


def focused_text(page) -> str:
    return page.evaluate("() => document.activeElement?.textContent?.trim() || ''")


def test_a_fan_buys_with_the_keyboard_alone_from_the_events_list_to_a_qr_ticket_hearing_each_change_once(system, page):
    # Long enough to reach the waiting room by keyboard before the sale opens.
    event = system.api().create_event("Keyboard Kingdom", on_sale_in_s=15, tiers=[("Standing", 2500, 20)])
    page.goto("/")
    record_announcements(page)
    tab_to(page, page.get_by_role("link", name="Keyboard Kingdom"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Keyboard Kingdom")).to_be_focused()

    tab_to(page, page.get_by_role("button", name="Join the waiting room"))
    page.keyboard.press("Enter")
    room = page.locator("#room")
    expect(room).to_have_attribute("data-phase", "countdown")
    # 15 s to the opening, then a poll to see the draw and one to read the salt and its status.
    expect(room).to_have_attribute("data-phase", "admitted", timeout=45_000)
    expect(page.get_by_role("heading", name="It's your turn!")).to_be_focused()

    tab_to(page, page.get_by_role("radio", name=re.compile("Standing")))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_label("How many tickets"))
    page.keyboard.press("ArrowDown")  # 1 -> 2 tickets
    expect(page.locator("output")).to_have_text("Total: $50.00")
    tab_to(page, page.get_by_role("button", name="Reserve tickets"))
    page.keyboard.press("Enter")

    expect(page.locator("#reservation")).to_have_attribute("data-status", "held")
    tab_to(page, page.get_by_role("button", name="Continue to payment"))
    page.keyboard.press("Space")
    expect(page.locator("#checkout")).to_have_attribute("data-status", "open")
    tab_to(page, page.get_by_role("button", name="Simulate successful payment"))
    page.keyboard.press("Space")
    expect(page.locator("#checkout")).to_have_attribute("data-status", "paid")
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_focused()
    expect(page.locator("#new-tickets .ticket")).to_have_count(2)
    page.wait_for_function(QR_LOADED, arg="#new-tickets .qr img")
    check_screen(page, "checkout-paid", screenshot=False)

    page.wait_for_timeout(1200)  # anything said late would still be recorded
    said = announcements(page)
    assert len(said) == len(set(said)), f"something was said twice: {said}"
    expected = [r"^You are in the pre-queue\. The sale opens in", r"^You have \d+ (minutes|seconds) to choose your tickets\.$",
                r"^Total: \$50\.00$", r"^Asking for your tickets… requests are decided in the order they arrive\.$",
                r"^Your tickets are held\. You have \d+ (minutes|seconds) to pay\.$",
                r"^Your tickets stay held for", r"Your tickets are ready\.$"]
    for pattern in expected:
        assert sum(bool(re.search(pattern, text)) for text in said) == 1, (pattern, said)
    assert event["id"] in page.evaluate("() => Object.keys(localStorage).join(' ')")


def test_the_skip_link_moves_focus_to_the_content_and_keeps_the_screen(system, page):
    event = system.api().create_event("Skip Street Sessions", on_sale_in_s=600, tiers=[("Floor", 3000, 10)])
    page.goto("/admin")
    page.evaluate("token => sessionStorage.setItem('ticketdrop.adminToken', token)", system.admin_token)
    for url, heading in ((f"/#/events/{event['id']}/room", "Waiting room"), (f"/admin#/events/{event['id']}/dashboard", "Live: Skip Street Sessions")):
        page.goto(url)
        page.reload()
        expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
        before = page.url
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        assert page.url == before
        expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
        expect(page.get_by_role("heading", name="Page not found")).to_have_count(0)
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.querySelector('main').contains(document.activeElement)")
    # A stray fragment (the skip link before the scripts ran) is not a route either.
    page.goto(f"/#/events/{event['id']}/room")
    expect(page.locator("#room")).to_have_attribute("data-phase", "countdown")
    page.evaluate("() => { location.hash = 'main'; }")
    page.wait_for_timeout(300)
    expect(page.locator("#room")).to_have_attribute("data-phase", "countdown")


def test_keyboard_focus_stays_on_the_same_event_when_the_list_refreshes(system, page):
    admin = system.api()
    event = admin.create_event("Focus Fields Festival", on_sale_in_s=3600, tiers=[("Day", 4000, 100)])
    page.goto("/")
    link = page.get_by_role("link", name="Focus Fields Festival")
    tab_to(page, link)
    admin.request("PATCH", f"/admin/events/{event['id']}", {"venue": "Focus Park, Riverside", "name": "Focus Fields Festival 2"}, admin=True)
    admin.create_event("Another Arrival", on_sale_in_s=3600, tiers=[("Day", 4000, 100)])
    # Coming back to the tab refreshes the list at once (the poller's visibility path).
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    card = page.get_by_role("article", name="Focus Fields Festival 2")
    expect(card).to_contain_text("Focus Park, Riverside")
    expect(page.get_by_role("article", name="Another Arrival")).to_be_visible()
    expect(card.get_by_role("link")).to_be_focused()


def test_screens_off_the_journeys_pass_the_audit(system, page):
    admin = system.api()
    event = admin.create_event("Audit Hall Night", on_sale_in_s=5400, tiers=[("Seated", 5500, 100), ("Standing", 3500, 200)],
                               timezone="Europe/Berlin")
    page.goto("/#/tickets")
    expect(page.get_by_text("You have no tickets yet.")).to_be_visible()
    check_screen(page, "my-tickets-empty", screenshot=False)
    page.goto("/#/no/such/screen")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    check_screen(page, "not-found", screenshot=False)
    page.goto("/")
    expect(page.get_by_role("article", name="Audit Hall Night")).to_contain_text("On sale in")
    check_screen(page, "events-list", screenshot=False)
    # Each card's art is its own picture, drawn from the event id: no two alike, no initials
    # ("BB" was both of these).
    art = lambda name: page.get_by_role("article", name=name).locator("img.art")  # noqa: E731
    assert art("Bulls vs Bucks").get_attribute("data-art") != art(re.compile("^Bad Bunny")).get_attribute("data-art")
    pictures = page.locator("#event-list img.art").evaluate_all("""els => els.map(e => e.complete && e.naturalWidth > 0
        && decodeURIComponent(e.getAttribute('src')).replace(/art-[a-z0-9]+/g, ''))""")
    assert len(pictures) >= 10 and all(pictures) and len(set(pictures)) == len(pictures)
    assert not any("<text" in picture for picture in pictures)
    expect(page.locator("#event-list img.art").first).to_have_attribute("alt", "")
    # axe could measure the contrast of every text (not while the art was inline SVG: its shapes
    # reached over the page, and axe took every text as overlapped).
    assert undecided_contrast(page) == []
    page.goto(f"/#/events/{event['id']}")
    # The venue's clock, with its zone named (the browser runs in UTC).
    expect(page.locator("h1 ~ p time").first).to_contain_text(re.compile(r"GMT\+1|GMT\+2|CET|CEST"))
    expect(page.locator("tr[data-tier]").first).to_contain_text("tickets left")
    check_screen(page, "event-page", screenshot=False)
    page.goto(f"/#/events/{event['id']}/fairness")
    expect(page.get_by_role("heading", name="Fairness proof")).to_be_visible()
    check_screen(page, "fairness-before-sale", screenshot=False)

    page.goto("/admin")
    page.get_by_label("Admin token").fill(system.admin_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Events")).to_be_visible()
    page.get_by_role("navigation", name="Operators").get_by_role("link", name="New event").click()
    expect(page.get_by_label("Venue time zone")).to_have_value("UTC")
    check_screen(page, "admin-new-event", screenshot=False)
    assert lowest_field_edge_contrast(page) >= 3, "a form field's edge is below 3:1 (WCAG 1.4.11)"
    page.get_by_role("navigation", name="Operators").get_by_role("link", name="Scanner").click()
    expect(page.get_by_label("QR payload")).to_be_focused()
    check_screen(page, "admin-scanner-empty", screenshot=False)
    page.goto("/admin#/nowhere")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    check_screen(page, "admin-not-found", screenshot=False)


def test_the_audit_fails_on_a_real_violation(system, page):
    # The check above can fail: an image without a text alternative is a WCAG 1.1.1 violation.
    page.goto("/#/no/such/screen")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.evaluate("() => document.querySelector('main').append(Object.assign(document.createElement('img'), {src: '/ui/none.png'}))")
    with pytest.raises(AssertionError, match="image-alt"):
        check_screen(page, "broken", screenshot=False)


def fan_id_of(page) -> str:
    """The fan id the page made for itself (it sends it as X-User-Id)."""
    return page.evaluate("() => localStorage.getItem('ticketdrop.userId')")


def act_as(page, fan: str) -> None:
    page.evaluate("fan => localStorage.setItem('ticketdrop.userId', fan)", fan)


def test_the_screens_of_a_sell_out_a_waitlist_a_live_ticket_a_refund_and_a_closed_sale_pass_the_audit(system, page):
    admin = system.api()
    buyer_id = f"e2e-audit-buyer-{uuid.uuid4().hex[:8]}"
    buyer = system.api(user=buyer_id)
    event = admin.create_event("Last Seat Standing", on_sale_in_s=1, tiers=[("Court", 8000, 1)], ticket_mode="rotating")
    e = event["id"]
    # The buyer is let in first and takes the one ticket while this fan waits in line.
    token = buyer.admitted(e)
    page.goto(f"/#/events/{e}/room")
    room = page.locator("#room")
    expect(room).to_have_attribute("data-phase", re.compile("queued|admitted"))
    watcher = fan_id_of(page)

    ticket = buyer.buy_ticket(e, event["tiers"][0]["id"], token=token)
    expect(room).to_have_attribute("data-phase", "soldout", timeout=20_000)
    check_screen(page, "waiting-room-sold-out", screenshot=False)

    page.goto(f"/#/events/{e}")
    join = page.get_by_role("button", name="Join the waitlist")
    expect(join).to_be_visible()
    check_screen(page, "event-sold-out", screenshot=False)
    join.click()
    expect(page.locator(".waitlist-join [role=status]")).to_contain_text("You are on the waitlist")
    page.get_by_role("link", name="See your waitlist").click()
    expect(page.locator("[data-entry]")).to_contain_text("Waiting")
    check_screen(page, "waitlist-waiting", screenshot=False)

    act_as(page, buyer_id)
    page.goto("/#/tickets")
    expect(page.locator(f'.ticket[data-code="{ticket["code"]}"] .qr-live')).to_be_visible()
    check_screen(page, "my-tickets-live", screenshot=False)
    # The live code's note stays inside its ticket (it spilt over the card's edge).
    assert page.evaluate("""() => [...document.querySelectorAll('.ticket')].every(card => [...card.querySelectorAll('*')]
        .every(el => el.getBoundingClientRect().bottom <= card.getBoundingClientRect().bottom + 0.5))""")

    admin.request("PATCH", f"/admin/events/{e}", {"status": "canceled"}, admin=True)
    buyer.wait_for("the refund", lambda: any(o["status"] == "refunded" for o in buyer.get("/me/orders").json()))
    page.reload()
    expect(page.locator("#refunds li")).to_have_count(1)
    expect(page.locator(f'.ticket[data-code="{ticket["code"]}"]')).to_contain_text("Void")
    check_screen(page, "my-tickets-refunded", screenshot=False)

    act_as(page, watcher)
    page.goto(f"/#/events/{e}/room")
    expect(room).to_have_attribute("data-phase", "closed", timeout=20_000)
    check_screen(page, "waiting-room-closed", screenshot=False)
    page.goto("/#/waitlist")
    expect(page.locator("[data-entry]")).to_contain_text("Event canceled")
    check_screen(page, "waitlist-canceled", screenshot=False)


def test_a_released_reservation_passes_the_audit(system, page):
    event = system.api().create_event("Release Radio", on_sale_in_s=1, tiers=[("Floor", 3000, 10)])
    e = event["id"]
    page.goto("/")
    fan = system.api(user=fan_id_of(page))
    res = fan.hold(e, event["tiers"][0]["id"])
    fan.request("DELETE", f"/reservations/{res['id']}")
    page.goto(f"/#/reservations/{res['id']}")
    expect(page.locator("#reservation")).to_have_attribute("data-status", "released")
    check_screen(page, "reservation-released", screenshot=False)


def test_a_keyboard_user_on_the_waitlist_keeps_focus_when_it_refreshes(system, page):
    admin = system.api()
    event = admin.create_event("Focus Waitlist Fest", on_sale_in_s=1, tiers=[("Pit", 5000, 1)])
    e, tier = event["id"], event["tiers"][0]["id"]
    system.api(user=f"e2e-wl-buyer-{uuid.uuid4().hex[:8]}").buy_ticket(e, tier)
    page.goto("/#/waitlist")
    expect(page.get_by_text("You are not on any waitlist.")).to_be_visible()
    check_screen(page, "waitlist-empty", screenshot=False)
    system.api(user=fan_id_of(page)).post(f"/events/{e}/waitlist", {"tier_id": tier, "quantity": 1})
    leave = page.get_by_role("button", name="Leave the waitlist")
    expect(leave).to_be_visible()
    tab_to(page, leave)
    # Refreshes with nothing new, then with a change (a second fan behind this one is not one;
    # the tier's price is): focus stays on the same button.
    for _ in range(2):
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_timeout(500)
        expect(leave).to_be_focused()
    admin.request("PATCH", f"/admin/tiers/{tier}", {"price_cents": 5500}, admin=True)
    expect(page.locator("[data-entry]")).to_contain_text("$55.00", timeout=10_000)
    expect(page.get_by_role("button", name="Leave the waitlist")).to_be_focused()


def test_hold_warnings_are_said_at_60_and_30_seconds_left_each_once(system, page):
    event = system.api().create_event("Warning Bells", on_sale_in_s=1, tiers=[("Floor", 3000, 10)])
    e = event["id"]
    # The page's clock is the test's: two minutes pass in an instant, the server's hold does not end.
    page.clock.install()
    page.goto("/")
    fan = system.api(user=fan_id_of(page))
    res = fan.hold(e, event["tiers"][0]["id"])
    record_announcements(page)
    page.evaluate("id => { location.hash = '/reservations/' + id; }", res["id"])
    expect(page.locator("#reservation")).to_have_attribute("data-status", "held")
    left = page.locator("#hold-left")
    expect(left).to_have_text(re.compile(r"^0[23]:\d\d$"))
    page.clock.fast_forward("01:50")
    expect(left).to_have_text(re.compile(r"^0[01]:\d\d$"))
    page.clock.fast_forward("00:15")
    expect(left).to_have_text(re.compile(r"^00:[0-5]\d$"))
    page.clock.fast_forward("00:30")
    expect(left).to_have_text(re.compile(r"^00:[0-2]\d$"))
    page.clock.fast_forward("00:05")
    page.wait_for_timeout(300)
    said = announcements(page)
    assert said.count("1 minute left to pay for your tickets.") == 1, said
    assert said.count("30 seconds left to pay for your tickets.") == 1, said
    assert [text for text in said if "left to pay" in text] == ["1 minute left to pay for your tickets.", "30 seconds left to pay for your tickets."]
    assert sum(bool(re.match(r"Your tickets are held\. You have \d+ minutes to pay\.$", text)) for text in said) == 1, said
    urgent = page.evaluate("() => [...document.querySelectorAll('#announce-urgent p')].map(p => p.textContent)")
    assert urgent == ["30 seconds left to pay for your tickets."]


def test_the_event_page_says_what_is_true_before_and_after_the_sale_opens(system, page):
    event = system.api().create_event("Truthful Tuesday", on_sale_in_s=5, tiers=[("Floor", 3000, 10)])
    page.goto(f"/#/events/{event['id']}")
    words = page.locator("#sale-words")
    expect(words).to_contain_text("Sale opens")
    expect(words).to_contain_text("Everyone who joins before then gets a random, verifiable place in line")
    # The page stays open through the opening: the words change with it, no reload.
    expect(words).to_contain_text("On sale since", timeout=20_000)
    expect(words).to_contain_text("in order of arrival")
    expect(words).not_to_contain_text("before then")


def test_a_fan_in_line_hears_the_line_move_by_a_meaningful_step_not_every_poll(system, page):
    admin = system.api()
    # One fan let in a second: the twenty ahead of this fan go one by one.
    event = admin.create_event("Steady Line Live", on_sale_in_s=1, tiers=[("Floor", 3000, 500)], wave_size=1, wave_interval_s=1)
    e = event["id"]
    time.sleep(1.5)  # after on-sale, places follow arrival order
    for i in range(20):
        system.api(user=f"e2e-line-fan-{uuid.uuid4().hex[:6]}-{i}").post(f"/events/{e}/waiting-room/join")
    page.clock.install()  # the page's own clock: the 20 s between two spoken updates pass at once
    page.goto("/")
    record_announcements(page)
    page.evaluate("id => { location.hash = '/events/' + id + '/room'; }", e)
    expect(page.locator("#room")).to_have_attribute("data-phase", "queued")
    joined = [text for text in announcements(page) if "in line" in text]
    assert len(joined) == 1 and joined[0].startswith("The sale is open. You are number"), joined
    first_ahead = int(re.search(r"with (\d+) fans? ahead", joined[0]).group(1))
    page.clock.fast_forward("00:25")
    page.wait_for_function("() => window.__said.filter(s => / ahead of you/.test(s.text)).length >= 2", timeout=30_000)
    moves = [text for text in announcements(page) if " ahead of you" in text][1:]
    assert len(moves) == 1, moves
    now_ahead = int(re.search(r"with (\d+) fans? ahead", moves[0]).group(1))
    assert now_ahead <= first_ahead * 0.75 or (first_ahead > 10 and now_ahead <= 10), (first_ahead, moves)
