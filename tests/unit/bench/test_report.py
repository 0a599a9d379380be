import json
import random

from bench.drop import analysis, report
from bench.drop.client import Recorder


def _recorder() -> Recorder:
    """Synthetic samples: 20 s of joins, then polls, reservations and payments after on-sale at 10 s."""
    rng = random.Random(7)
    rec = Recorder(0.0)
    for i in range(2000):
        rec.request("join", i / 100, rng.uniform(1, 20), 201)
    for i in range(6000):
        rec.request("status", 5 + i / 400, rng.uniform(1, 10), 200 if i % 100 else 503)
    for i in range(300):
        rec.request("reserve", 10 + i / 30, rng.uniform(5, 50), 201)
        rec.mark("held" if i % 5 else "rejected", 10 + i / 30)
    for i in range(200):
        rec.mark("paid", 11 + i / 20)
    return rec


def _results(rec: Recorder, *, passed: bool = True, chaos: dict | None = None) -> dict:
    phases = [("pre-sale", 0.0, 10.0), ("on-sale to sold out", 10.0, 18.0), ("after sold out", 18.0, 21.0)]
    samples = [(float(t), {"sold": min(600, 40 * max(0, t - 10)), "held": 20, "admitted_up_to": 50 * t,
                           "queue_waiting": max(0, 2000 - 100 * t)}, {"waiting": max(0, 2000 - 100 * t)}) for t in range(22)]
    return {
        "mode": "chaos" if chaos else "drop", "command": "python -m bench.drop --fans 2000", "started_at": "2026-01-01 00:00 UTC",
        "machine": {"cpus": 2, "cpu_model": "Test CPU", "python": "3.11"}, "elapsed_s": 22.0,
        "config": {"fans": 2000, "late_fans": 200, "web": 2, "workers": 2, "threads": 8, "wave_size": 50, "wave_interval_s": 1.0,
                   "hold_ttl_s": 30, "poll_s": 2.0, "poll_max_s": 2.0, "fail_share": 0.1, "abandon_share": 0.1,
                   "database": "postgresql", "redis": "own redis-server"},
        "baseline": {"rps": 9000.0, "p99_ms": 20.0},
        "event": {"id": "e", "capacity": 600, "tiers": [{"name": "GA", "capacity": 400}, {"name": "VIP", "capacity": 200}]},
        "marks": {"on_sale_s": 10.0, "sold_out_s": 18.0, "sold_out_after_s": 8.0, "fully_sold_after_s": 9.5},
        "phases": analysis.phase_table(rec, phases, 9000.0),
        "latency": analysis.latency_table(rec),
        "latency_by_phase": {name: analysis.latency_table(rec, a, b) for name, a, b in phases},
        "timeline": {"t": [s[0] for s in samples], **{k: [s[1].get(k) for s in samples] for k in ("queue_waiting", "admitted_up_to", "held", "sold")},
                     "fans_waiting": [s[2]["waiting"] for s in samples]},
        "throughput_series": {name: analysis.per_second(rec.endpoints[name].t, 22) for name in ("join", "status", "reserve")},
        "fans": {"total": 2200, "outcomes": {"bought": 200, "sold_out": 2000}, "retries": 60, "rejoins": 0},
        "chaos": chaos,
        "invariants": {"passed": passed, "violations": [] if passed else ["tier GA: sold 401 > capacity 400"],
                       "summary": {"tiers": [{"name": "GA", "capacity": 400, "sold": 400, "held": 0, "ordered": 400}],
                                   "orders_paid": 200, "tickets": 600, "waves": 40, "admitted_up_to": 2000, "reservations": {}},
                       "checked": ["sold <= capacity"]},
    }


def test_phase_rates_count_successful_joins_marks_and_ratios_to_the_baseline():
    rows = analysis.phase_table(_recorder(), [("pre-sale", 0.0, 10.0), ("sale", 10.0, 20.0)], 9000.0)
    pre, sale = rows
    assert pre["joins_per_s"] == 100.0
    assert pre["joins_ratio"] == round(100.0 / 9000.0, 4)
    assert sale["reservation_outcomes_per_s"] == 30.0
    assert sale["checkouts_per_s"] == 18.0  # 180 payments between 11 s and 20 s
    assert pre["polls_per_s"] == 200.0  # 2000 polls between 5 s and 10 s


def test_latency_table_counts_5xx_as_errors_and_orders_endpoints():
    table = analysis.latency_table(_recorder())
    assert list(table) == ["join", "status", "reserve"]
    assert table["status"]["errors"] == 60
    assert table["join"]["count"] == 2000
    assert table["join"]["p50"] <= table["join"]["p95"] <= table["join"]["p99"] <= table["join"]["max"]


def test_first_time_finds_the_first_sample_after_a_moment():
    samples = [(1.0, {"remaining": 5}, {}), (2.0, {"remaining": 0}, {}), (3.0, {"remaining": 0}, {})]
    assert analysis.first_time(samples, "remaining", lambda v: v <= 0) == 2.0
    assert analysis.first_time(samples, "remaining", lambda v: v <= 0, after=2.5) == 3.0
    assert analysis.first_time(samples, "sold", lambda v: True) is None


def test_the_report_has_its_sections_charts_and_raw_figures(tmp_path):
    path = report.write(_results(_recorder()), tmp_path)
    text = path.read_text()
    assert "**PASS**" in text
    for heading in ("## Throughput per phase", "## Latency per endpoint", "## Where the fans ended", "## Invariants"):
        assert heading in text
    assert "| on-sale to sold out (no tickets left) | 8 s |" in text
    for chart in ("timeline.png", "latency.png", "throughput.png"):
        png = tmp_path / chart
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert 5_000 < png.stat().st_size < 150_000
        assert f"]({chart})" in text
    assert json.loads((tmp_path / "results.json").read_text())["fans"]["total"] == 2200


def test_a_failed_run_lists_its_violations_and_chaos_recovery(tmp_path):
    chaos = {"events": [(12.0, "web_restart", "2 stopped"), (15.0, "redis_killed", "all lost"), (13.0, "worker_killed", "w0")],
             "recovery": {"web_downtime_s": 1.5, "redis_health_s": 0.4, "redis_counters_s": 2.1, "redis_first_decision_s": 2.5},
             "kills": 3, "duplicates": 40, "restarts": 4}
    text = report.write(_results(_recorder(), passed=False, chaos=chaos), tmp_path).read_text()
    assert "**FAIL**: 1 violations" in text
    assert "- tier GA: sold 401 > capacity 400" in text
    assert "## Faults and recovery" in text
    assert "stock counters rebuilt after 2.10 s" in text
    assert "| 15.0 | redis_killed | all lost |" in text
    assert "worker processes SIGKILLed: 3" in text
    assert "| 13.0 | worker_killed" not in text  # kills are counted, not listed one by one


def test_the_waitlist_section_shows_both_views_and_the_extra_tickets(tmp_path):
    results = _results(_recorder())
    results["config"].update(waitlist_share=0.5, waitlist_patience_s=120.0)
    results["fans"]["waitlist"] = {"joined": 900, "refused": 12, "offers_seen": 40, "bought": 35, "payment_failed": 4,
                                   "lapsed": 1, "gave_up": 860, "ended_otherwise": 0, "tickets": 70}
    results["fans"]["waitlist_server_peak"] = {"waitlist": 880, "offers_outstanding": 9}
    results["invariants"]["summary"]["waitlist"] = {"entries": {"purchased": 35, "lapsed": 5, "left": 860},
                                                    "offers_made": 40, "tickets_sold": 70}
    text = report.write(results, tmp_path).read_text()
    assert "## Waitlist" in text
    assert "| offers made / seen | 40 seen | 40 made |" in text
    assert "| offers taken (paid) | 35 | 35 purchased |" in text
    assert "| extra tickets sold from returns | 70 | 70 |" in text
    assert "880 waiting, 9 offers outstanding" in text


def test_a_report_without_waitlist_figures_has_no_waitlist_section(tmp_path):
    assert "## Waitlist" not in report.write(_results(_recorder()), tmp_path).read_text()


def test_the_status_polls_time_is_shown_as_the_simulator_and_the_web_tier_saw_it_with_both_loops_lag(tmp_path):
    results = _results(_recorder())
    results["server_by_phase"] = {"on-sale to sold out": {
        "/events/{id}/waiting-room/status": {"count": 3000, "p50_ms": 23.6, "p99_ms": 171.8},
        "event loop lag": {"count": 1400, "p50_ms": 2.3, "p99_ms": 72.2, "late_share": 0.076}}}
    results["simulator_loop_lag_by_phase"] = {"on-sale to sold out": {"count": 147, "p50": 1.5, "p99": 971.9,
                                                                      "max": 1198.4, "late_share": 0.8}}
    text = report.write(results, tmp_path).read_text()
    status = results["latency_by_phase"]["on-sale to sold out"]["status"]
    assert "## Where a status poll's time goes" in text
    assert (f"| on-sale to sold out | {status['p50']:,.1f} / {status['p99']:,.1f} ms | n/a / n/a ms | 23.6 / 171.8 ms | "
            f"8%, 72.2 ms | 80%, 1,198.4 ms |") in text
    assert "The prober:" not in text  # a run without the prober says nothing of it


def _probed(p99_ms: float) -> dict:
    row = {"count": 640, "p50": 12.5, "p95": 80.0, "p99": p99_ms, "max": 420.0, "errors": 2, "statuses": {"200": 638}}
    return {"probes": 64, "poll_s": 2.0, "repeats": 0, "by_phase": {
        "on-sale to sold out": {"status": row, "wait": {"count": 640, "p50": 0.0, "p99": 0.4, "max": 1.2},
                                "loop": {"count": 300, "p50": 0.1, "p99": 3.0, "max": 9.5, "late_share": 0.01}},
        "after sold out": {"status": None, "wait": {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0},
                           "loop": {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0, "late_share": None}}}}


def test_the_probers_status_figures_stand_beside_the_simulators_and_judge_the_on_sale_goal(tmp_path):
    results = _results(_recorder())
    results["prober"] = _probed(180.0)
    text = report.write(results, tmp_path).read_text()
    status = results["latency_by_phase"]["on-sale to sold out"]["status"]
    assert (f"| on-sale to sold out | {status['p50']:,.1f} / {status['p99']:,.1f} ms | 12.5 / 180 ms | n/a / n/a ms |") in text
    assert "| on-sale to sold out | 640 | 12.5 / 80.0 / 180.0 / 420.0 ms | 2 | 0.4 / 1.2 ms | 1%, 9.5 ms |" in text
    assert "| after sold out | 0 |" not in text  # a phase the prober did not read in has no row
    assert "| after sold out | n/a / n/a ms | n/a / n/a ms |" not in text  # in either table
    assert "by the prober's figure: **met** (180.0 ms over 640 reads)" in text
    assert "64 simulated fans" in text


def test_a_prober_p99_over_200_ms_misses_the_on_sale_goal(tmp_path):
    results = _results(_recorder())
    results["prober"] = _probed(200.5)
    assert "by the prober's figure: **missed** (200.5 ms over 640 reads)" in report.write(results, tmp_path).read_text()


def test_a_report_without_the_web_tiers_timings_has_no_section_for_them(tmp_path):
    assert "## Where a status poll's time goes" not in report.write(_results(_recorder()), tmp_path).read_text()


def test_a_drop_across_hosts_lists_each_host_its_address_and_what_ran_there(tmp_path):
    results = _results(_recorder())
    results["hosts"] = [{"host": "web-1", "namespace": "tdropab12-web-1", "address": "10.88.0.11", "runs": "python -m web"},
                        {"host": "data", "namespace": "tdropab12-data", "address": "10.88.0.40", "runs": "PostgreSQL"}]
    results["edge"] = {"requests": 1000, "polls": 800, "polls_from_cache": 600}
    text = report.write(results, tmp_path).read_text()
    assert "## Hosts" in text
    assert "800 of them waiting-room polls (status, progress), 600 of those answered from nginx's cache (75%); " \
           "400 requests reached a web host" in text
    assert "| web-1 | 10.88.0.11 | python -m web |" in text
    assert "2 web hosts behind nginx" in text


def test_a_drop_on_one_machine_has_no_hosts_section(tmp_path):
    text = report.write(_results(_recorder()), tmp_path).read_text()
    assert "## Hosts" not in text
    assert "2 web (one port, SO_REUSEPORT)" in text


def _with_cpu(results: dict, postgres: str, lost: dict | None = None) -> dict:
    """CPU figures as bench.drop.run leaves them (bench.drop.cputime.summary), PostgreSQL counted as ``postgres`` says."""
    counted = not postgres.startswith("not counted")
    kinds = {"simulator": 1.0, "web": 6.0, "worker": 1.5, "scheduler": 0.2, "redis": 0.3, **({"postgres": 4.0} if counted else {})}
    results["cpu_s"] = {k: v * 2 for k, v in kinds.items()}
    results["cpu"] = {"postgres": postgres, "lost": lost or {}, "read_every_s": 2.0,
                      "by_phase": {"on-sale to sold out": {"seconds": 8.0, "cpu_s": kinds, "requests": 6500},
                                   "after sold out": {"seconds": 3.0, "cpu_s": kinds, "requests": 0}}}
    return results


def test_the_cpu_section_counts_postgresql_backends_per_phase_and_per_request(tmp_path):
    results = _with_cpu(_results(_recorder()), "the backends of the drop's database ticketdrop_drop_1; not the server's "
                                               "background processes", lost={"postgres": 2})
    text = report.write(results, tmp_path).read_text()
    assert "## CPU by process" in text
    assert ("CPU seconds used during the drop, from the crowd's start to the drain's end: simulator 2, web 12, worker 3, "
            "scheduler 0, redis 1, postgres 8 (of 44 available).") in text
    assert "PostgreSQL: the backends of the drop's database ticketdrop_drop_1; not the server's background processes." in text
    assert "Processes that exited between two readings (read every 2 s; their CPU since the earlier one is not counted): " \
           "postgres 2." in text
    assert "| phase | seconds | simulator | web | worker | scheduler | redis | postgres | all (share of 2 cores) | requests |" in text
    assert "| on-sale to sold out | 8 | 1 | 6 | 1.5 | 0.2 | 0.3 | 4 | 13 (81%) | 6,500 | 2.00 |" in text
    assert "| after sold out | 3 | 1 | 6 | 1.5 | 0.2 | 0.3 | 4 | 13 (217%) | 0 | n/a |" in text


def test_a_postgresql_out_of_sight_is_said_not_counted_instead_of_a_figure(tmp_path):
    why = "not counted: PostgreSQL's processes are not visible from here (another host or a container)"
    text = report.write(_with_cpu(_results(_recorder()), why), tmp_path).read_text()
    assert f"PostgreSQL: {why}." in text
    assert "postgres" not in text.split("## CPU by process")[1].split("##")[0].replace(why, "")
    assert "Processes that exited" not in text


def test_a_drop_across_hosts_says_its_hosts_share_the_machines_cores(tmp_path):
    results = _with_cpu(_results(_recorder()), "the data host's own PostgreSQL server, all its processes")
    results["hosts"] = [{"host": "data", "namespace": "tdropab12-data", "address": "10.88.0.40", "runs": "PostgreSQL"}]
    text = report.write(results, tmp_path).read_text()
    assert "postgres 8 (of 44 available; every host shares this machine's cores)." in text
    assert "PostgreSQL: the data host's own PostgreSQL server, all its processes." in text


def test_requests_between_counts_every_endpoints_requests_started_in_the_window():
    assert analysis.requests_between(_recorder(), 10.0, 11.0) == 100 + 400 + 30
