"""The fixture's cluster is real: three masters sharing the 16384 slots, clients from a
``redis+cluster://`` REDIS_URL, and every script's keys served by one node."""

from __future__ import annotations

import uuid

import pytest

from models.keys import key_slot, reservation_id
from models.redis import is_cluster, scripts

pytestmark = pytest.mark.integration


def test_the_cluster_has_three_masters_covering_every_slot(redis):
    assert is_cluster(redis)
    masters = [n for n in redis.get_nodes() if n.server_type == "primary"]
    assert len(masters) == 3
    info = redis.cluster_info()
    assert info["cluster_state"] == "ok" and int(info["cluster_slots_assigned"]) == 16384


def test_an_event_s_keys_and_reservation_records_are_served_by_one_node_and_a_script_runs_on_them(redis, keys):
    event_id = str(uuid.uuid4())
    rid = reservation_id(event_id)
    slot = key_slot(keys.stock(event_id))
    assert key_slot(keys.reservation(rid)) == slot
    redis.hset(keys.stock(event_id), mapping={"tier": 5, "held:tier": 0})
    redis.hset(keys.reservation(rid), mapping={"status": "held", "user_id": "fan", "quantity": 1})
    moved = scripts(redis).get("res_transition")(
        keys=[keys.stock(event_id), keys.user_counts(event_id), keys.live_reservations(event_id), keys.reservation(rid)],
        args=[rid, "tier", "fan", 1, "released", "released_by_user", 60])
    assert moved == 1 and redis.hget(keys.stock(event_id), "tier") == "6"


def test_a_script_over_two_slots_is_refused_with_crossslot(redis, keys):
    import redis as redis_py

    a, b = keys.event_lease("one-event"), keys.drain_flag("another-event")
    assert key_slot(a) != key_slot(b)
    with pytest.raises(redis_py.exceptions.RedisClusterException, match="same key slot"):
        scripts(redis).get("res_lease_release")(keys=[a, b], args=["token", 0])
