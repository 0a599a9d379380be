"""room_join.lua sets a key's expiry only when it must (issue 14): every key a join creates or
touches keeps an expiry, never earlier than the one the old script set on every join (each key it
touched expired at that join's expire-at, ARGV[4])."""

from __future__ import annotations

import random

import pytest

from models.redis import scripts

ON_SALE = 2_000_000_000_000
E1 = ON_SALE + 7 * 86_400_000  # the event's keys' expire-at (start + TOKEN_TTL_S)
E2 = E1 + 3_600_000  # the start moved an hour later
EVENT = "ev"


@pytest.fixture
def room(redis, keys):
    """A room made live as the web tier makes a new one (live, then its expiry)."""
    key = keys.room(EVENT)
    redis.hset(key, "live", ON_SALE - 10_000)
    redis.pexpireat(key, E1)
    return key


def call(redis, keys, field: str, bucket: int, expire_at: int, now: int = ON_SALE + 1) -> list[int]:
    """One join of ``field`` into bucket ``bucket`` (the script takes any bucket: no token needed)."""
    call_keys = [keys.room(EVENT), keys.room_bucket(EVENT, bucket), keys.room_prequeue_buckets(EVENT),
                 keys.room_journal(EVENT)]
    return scripts(redis).get("room_join")(keys=call_keys, args=[field, now, ON_SALE, expire_at, bucket])


def touched(keys, bucket: int, prequeue: bool) -> list[str]:
    names = [keys.room(EVENT), keys.room_bucket(EVENT, bucket), keys.room_journal(EVENT)]
    return names + [keys.room_prequeue_buckets(EVENT)] if prequeue else names


def test_a_first_join_gives_every_key_it_creates_its_expiry(redis, keys, room):
    call(redis, keys, "a", 1, E1, now=ON_SALE - 1)  # pre-queue: the bucket-number set too
    for key in touched(keys, 1, prequeue=True):
        assert redis.pexpiretime(key) == E1, key


def test_an_unchanged_expiry_is_not_written_again(redis, keys, room):
    call(redis, keys, "a", 1, E1)
    # Moved by hand: a join that rewrote the expiries would put them back at E1.
    for key in (room, keys.room_bucket(EVENT, 1), keys.room_journal(EVENT)):
        redis.pexpireat(key, E1 + 5)
    call(redis, keys, "b", 1, E1)
    for key in (room, keys.room_bucket(EVENT, 1), keys.room_journal(EVENT)):
        assert redis.pexpiretime(key) == E1 + 5, key


def test_a_journal_trimmed_to_nothing_gets_its_expiry_when_it_comes_back(redis, keys, room):
    call(redis, keys, "a", 1, E1)
    redis.ltrim(keys.room_journal(EVENT), 1, -1)  # the wave tick copied every entry: the list is gone
    assert not redis.exists(keys.room_journal(EVENT))
    call(redis, keys, "b", 1, E1)
    assert redis.pexpiretime(keys.room_journal(EVENT)) == E1


def test_a_new_bucket_gets_its_expiry(redis, keys, room):
    call(redis, keys, "a", 1, E1)
    call(redis, keys, "b", 2, E1)
    assert redis.pexpiretime(keys.room_bucket(EVENT, 2)) == E1


def test_a_later_expiry_reaches_every_key_a_later_join_touches(redis, keys, room):
    call(redis, keys, "a", 1, E1, now=ON_SALE - 1)
    call(redis, keys, "b", 2, E1, now=ON_SALE - 1)
    call(redis, keys, "c", 1, E2, now=ON_SALE - 1)  # the start moved: this join brings the new expiry
    for key in touched(keys, 1, prequeue=True):
        assert redis.pexpiretime(key) == E2, key
    # Bucket 2 still has E1; the room already knows E2, yet the next join into it moves it too.
    call(redis, keys, "d", 2, E2, now=ON_SALE - 1)
    assert redis.pexpiretime(keys.room_bucket(EVENT, 2)) == E2


def test_a_restored_room_gets_the_joins_expiry(redis, keys, room):
    call(redis, keys, "a", 1, E1)
    # A restore deletes the room and rebuilds it with the tick's expiry (no expire_at field).
    redis.delete(room)
    redis.hset(room, mapping={"live": ON_SALE, "seq": 1})
    redis.pexpireat(room, E1 - 1000)
    call(redis, keys, "b", 2, E1)
    for key in touched(keys, 2, prequeue=False):
        assert redis.pexpiretime(key) == E1, key


def test_a_room_opened_before_this_script_gets_the_expiry_on_its_first_join(redis, keys, room):
    redis.persist(room)  # not what any caller leaves behind: only the script's write can set it
    call(redis, keys, "a", 1, E1)
    assert redis.pexpiretime(room) == E1


def test_a_rejoin_and_a_closed_room_write_no_expiry(redis, keys, room):
    call(redis, keys, "a", 1, E1)
    redis.persist(keys.room_bucket(EVENT, 1))
    assert call(redis, keys, "a", 1, E2)[0] == 0  # a rejoin changes nothing, as before
    assert redis.pexpiretime(keys.room_bucket(EVENT, 1)) == -1


def test_expiries_never_fall_behind_the_old_scripts(redis, keys, room):
    """Random joins (before and after on-sale, into few buckets, with expiries that move later,
    and from a web process that still has the old one), journal trims and room restores; after
    each step every key has an expiry no earlier than the old script left it with."""
    rnd = random.Random(14)
    old: dict[str, int] = {room: E1}  # what the old script (and the callers around it) left
    expiries = [E1]
    for i in range(600):
        step = rnd.random()
        if step < 0.05:
            expiries.append(expiries[-1] + rnd.randrange(1, 10_000))
        elif step < 0.12:
            redis.ltrim(keys.room_journal(EVENT), rnd.randrange(0, 4), -1)
            if not redis.exists(keys.room_journal(EVENT)):
                old.pop(keys.room_journal(EVENT), None)
        elif step < 0.14:  # restore: a new room hash, the tick's expiry
            redis.delete(room, keys.room_prequeue_buckets(EVENT))
            old.pop(keys.room_prequeue_buckets(EVENT), None)
            redis.hset(room, mapping={"live": ON_SALE, "pre": 0, "seq": i})
            redis.pexpireat(room, expiries[-1] - rnd.randrange(0, 5000))
            old[room] = redis.pexpiretime(room)
        else:
            bucket = rnd.randrange(4)
            expire_at = rnd.choice(expiries[-3:])  # a process may lag behind the new expiry
            prequeue = rnd.random() < 0.3 and not redis.hexists(room, "pclosed")
            created = call(redis, keys, f"f{i}", bucket, expire_at, now=ON_SALE - 1 if prequeue else ON_SALE)[0]
            assert created == 1
            for key in touched(keys, bucket, prequeue):
                old[key] = expire_at
        for key, expire_at in old.items():
            assert redis.pexpiretime(key) >= expire_at, (i, key)
    for key in redis.scan_iter(keys.room(EVENT) + "*"):
        assert redis.pttl(key) > 0, key
