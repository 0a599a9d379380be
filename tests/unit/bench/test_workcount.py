from bench.workcount import by_kind, by_role, commandstats_calls, delta


def test_commandstats_calls_reads_parsed_and_raw_redis_info():
    parsed = {"cmdstat_get": {"calls": 3, "usec": 10}, "cmdstat_evalsha": {"calls": 7}, "other": 1}
    raw = {"cmdstat_lpop": "calls=12,usec=40,usec_per_call=3.33"}
    assert commandstats_calls(parsed) == {"get": 3, "evalsha": 7}
    assert commandstats_calls(raw) == {"lpop": 12}


def test_delta_counts_new_keys_from_zero_drops_unchanged_ones_and_subtracts_what_to_ignore():
    before = {"get": 3, "set": 5, "info": 1}
    after = {"get": 10, "set": 5, "info": 3, "lpop": 4}
    assert delta(before, after, ignore={"info": 2}) == {"get": 7, "lpop": 4}


def test_statement_counts_sum_by_process_role_and_by_kind():
    counts = {("web", "select"): 10.0, ("web", "ping"): 2.0, ("worker", "select"): 5.0, ("worker", "txn"): 4.0}
    assert by_role(counts) == {"web": 12.0, "worker": 9.0}
    assert by_kind(counts) == {"select": 15.0, "ping": 2.0, "txn": 4.0}
