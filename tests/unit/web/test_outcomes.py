"""The outcome hub wakes waiters when a worker publishes."""

from __future__ import annotations

from models.outcomes import publish
from web.appkeys import OUTCOMES


async def test_a_waiter_receives_the_outcome_published_for_its_subject(client, app, redis, keys):
    async with app[OUTCOMES].waiter("abc") as w:
        publish(redis, keys, "abc", {"status": "held"})
        payload = await w.wait(2)
    assert payload == {"id": "abc", "status": "held"}


async def test_a_waiter_times_out_with_none_when_nothing_is_published(client, app):
    async with app[OUTCOMES].waiter("nothing") as w:
        assert await w.wait(0.1) is None


async def test_outcomes_of_other_subjects_do_not_wake_a_waiter(client, app, redis, keys):
    async with app[OUTCOMES].waiter("mine") as w:
        publish(redis, keys, "theirs", {"status": "held"})
        assert await w.wait(0.2) is None


async def test_closing_the_hub_ends_its_listener_even_when_cancellation_surfaces_as_a_connection_error(app, client, monkeypatch):
    import asyncio

    import redis.exceptions

    h = app[OUTCOMES]
    await h.ensure_started()

    async def closed_by_server(*args, **kwargs):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            # What redis-py 8.1 does on a real server when the blocked read is cancelled.
            raise redis.exceptions.ConnectionError("Connection closed by server.") from None

    monkeypatch.setattr(type(h._redis.pubsub()), "get_message", closed_by_server)
    await asyncio.sleep(1.1)  # let the listener's pending read return and enter the patched one
    await asyncio.wait_for(h.close(), timeout=5)
