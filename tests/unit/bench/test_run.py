"""The drop's configuration: the waitlist polls' pool sized from their expected rate (bench/drop/run.py)."""

from bench.drop.fans import Plan
from bench.drop.run import DropConfig, waitlist_connections


def test_the_waitlist_pool_carries_the_expected_polls_at_a_quarter_second_each():
    # 2,000 fans, half of them waitlisted, polling every 5 s: 200 polls/s x 0.25 s.
    assert waitlist_connections(2_000, Plan(waitlist_share=0.5, waitlist_poll_s=5.0)) == 50
    # Polling every second asks five times as many.
    assert waitlist_connections(2_000, Plan(waitlist_share=0.5, waitlist_poll_s=1.0)) == 250


def test_the_waitlist_pool_stays_between_32_and_512_connections():
    assert waitlist_connections(100, Plan(waitlist_share=0.5)) == 32
    assert waitlist_connections(1_000, Plan(waitlist_share=0.0)) == 32
    # 22,000 fans (a 20,000-fan drop and its late fans) ask ~2,200 polls/s: the cap carries ~2,000.
    assert waitlist_connections(22_000, Plan(waitlist_share=0.5)) == 512


def test_a_drop_sizes_its_waitlist_pool_from_all_its_fans_unless_told_a_size():
    assert DropConfig(fans=2_000).resolved().waitlist_connections == 55  # 2,200 fans with the late ones
    assert DropConfig(fans=2_000, waitlist_connections=16).resolved().waitlist_connections == 16
