"""What the waitlist routes cost the database: a join and a fan's listing in a fixed, small number
of statements (the fans ahead counted inside the document's one SELECT)."""

from __future__ import annotations

from tests.unit.models.waitlist_factories import statements_sent
from tests.unit.web.test_waitlist import join, tier_with


async def test_a_join_costs_four_statements_a_repeated_join_one_and_my_waitlist_one(client, runtime, monkeypatch):
    tier = tier_with(runtime, capacity=1, held=1)
    assert (await join(client, tier, "fan-0")).status == 201  # loads the event's snapshot
    sent = statements_sent(monkeypatch)

    first = await join(client, tier, "fan-1")
    assert first.status == 201 and (await first.json())["ahead"] == 1
    # The fan's active entry (none), their stored waiting-room place (never queued), the entry, its document.
    assert sent == ["SELECT", "SELECT", "INSERT", "SELECT"]

    sent.clear()
    again = await join(client, tier, "fan-1")
    assert again.status == 200 and sent == ["SELECT"]

    sent.clear()
    mine = await client.get("/me/waitlist", headers={"X-User-Id": "fan-1"})
    assert [e["ahead"] for e in (await mine.json())["entries"]] == [1]
    assert sent == ["SELECT"]
