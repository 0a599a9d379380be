"""What the waitlist routes cost the database: a join and a fan's listing in a fixed, small number
of statements (the fans ahead counted in the tier's line, read at most once a second)."""

from __future__ import annotations

from models.waitlist.lines import LINES
from tests.unit.models.waitlist_factories import statements_sent
from tests.unit.web.test_waitlist import join, tier_with


async def test_a_join_costs_four_statements_a_repeated_join_one_and_my_waitlist_one(client, runtime, monkeypatch):
    monkeypatch.setattr(LINES, "max_age_s", 3600.0)  # a slow test machine must not see the line age
    tier = tier_with(runtime, capacity=1, held=1)
    assert (await join(client, tier, "fan-0")).status == 201  # loads the event's snapshot and the tier's line
    sent = statements_sent(monkeypatch)

    first = await join(client, tier, "fan-1")
    assert first.status == 201 and (await first.json())["ahead"] == 1
    # The fan's active entry (none), their stored waiting-room place (never queued), the entry, its document
    # (the tier's line, read for fan-0 this second, is not read again).
    assert sent == ["SELECT", "SELECT", "INSERT", "SELECT"]

    sent.clear()
    again = await join(client, tier, "fan-1")
    assert again.status == 200 and sent == ["SELECT"]

    sent.clear()
    mine = await client.get("/me/waitlist", headers={"X-User-Id": "fan-1"})
    assert [e["ahead"] for e in (await mine.json())["entries"]] == [1]
    assert sent == ["SELECT"]
