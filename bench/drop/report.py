"""The Markdown report of a drop, its charts and the raw figures (results.json), in one folder."""

from __future__ import annotations

import json
from pathlib import Path

from bench.drop import charts


def _n(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.{digits}f}"
    return f"{int(value):,}"


def _rate(row: dict, key: str) -> str:
    ratio = row.get(key.replace("_per_s", "_ratio"))
    return f"{_n(row[key])} ({ratio:.3f})" if ratio is not None else _n(row[key])


def _header(r: dict) -> list[str]:
    c, m, inv = r["config"], r["marks"], r["invariants"]
    tiers = ", ".join(f"{t['name']} {t['capacity']:,}" for t in r["event"]["tiers"])
    verdict = "**PASS**: every invariant holds" if inv["passed"] else f"**FAIL**: {len(inv['violations'])} violations"
    lines = [
        f"# Drop report: {c['fans']:,} fans{' under chaos' if r['mode'] == 'chaos' else ''}",
        "",
        f"{r['started_at']} on {r['machine']['cpus']} CPU cores ({r['machine']['cpu_model']}), Python {r['machine']['python']}.",
        f"Command: `{r['command']}`",
        "",
        f"Result: {verdict}. Whole run {_n(r['elapsed_s'])} s.",
        "",
        "| | |",
        "|---|---|",
        f"| fans before on-sale / after | {c['fans']:,} / {c['late_fans']:,} |",
        f"| tiers (capacity) | {tiers} = {r['event']['capacity']:,} tickets |",
        f"| processes | {c['web']} web{' hosts behind nginx' if r.get('hosts') else ' (one port, SO_REUSEPORT)'}, "
        f"{c['workers']} workers x {c['threads']} threads, 1 scheduler |",
        f"| stores | {c['database']}, {c['redis']} |",
        f"| waves | {c['wave_size']:,} positions every {c['wave_interval_s']} s; admission lasts {c.get('admission_ttl_s')} s; "
        f"holds last {c['hold_ttl_s']} s |",
        f"| fan behaviour | poll every {c['poll_s']}-{c['poll_max_s']} s (the shared progress, {_edge(r)}; "
        f"the fan's own status when it may have changed); {c['fail_share']:.0%} fail payment, {c['abandon_share']:.0%} abandon the hold |",
        f"| simulator | one process, {c.get('connections', 0):,} connections for commands + {c.get('poll_connections', 0):,} for polls + {c.get('waitlist_connections', 0):,} for waitlist polls"
        f"{_probes(c)} |",
        f"| baseline (trivial aiohttp JSON handler) | {_n(r['baseline']['rps'])} requests/s, p99 {r['baseline']['p99_ms']} ms |",
        f"| on-sale to sold out (no tickets left) | {_n(m.get('sold_out_after_s'))} s |",
        f"| on-sale to every ticket paid | {_n(m.get('fully_sold_after_s'))} s |",
        "",
    ]
    return lines


def _probes(c: dict) -> str:
    probes = c.get("probes")
    return f"; beside it a status prober, {probes:,} fans in a process of its own" if probes else ""


def _phases(r: dict) -> list[str]:
    lines = ["## Throughput per phase", "",
             "Each rate is followed by its ratio to the baseline's requests/s on the same machine.", "",
             "| phase | seconds | joins/s | status polls/s | reservation outcomes/s | checkouts/s | all requests/s |",
             "|---|---|---|---|---|---|---|"]
    for row in r["phases"]:
        lines.append(f"| {row['phase']} | {_n(row['duration_s'])} | {_rate(row, 'joins_per_s')} | {_rate(row, 'polls_per_s')} | "
                     f"{_rate(row, 'reservation_outcomes_per_s')} | {_rate(row, 'checkouts_per_s')} | {_rate(row, 'requests_per_s')} |")
    return lines + [""]


def _edge(r: dict) -> str:
    if not r["config"].get("edge_cache", True):
        return "every poll a request"
    hits = r["fans"].get("progress_edge_hits", 0)
    stale, timeouts = r["fans"].get("progress_stale_hits", 0), r["fans"].get("progress_lock_timeouts", 0)
    sent = (r["latency"].get("progress") or {}).get("count", 0)
    places = r["fans"].get("places") or {}
    drawn = (f"; {places.get('estimated', 0):,} pre-queue fans computed their place from the revealed draw, "
             f"{places.get('read', 0):,} of them read it later, {places.get('earlier', 0):,} found it earlier than "
             f"the estimate allowed") if places else ""
    return (f"through a simulated edge cache: {hits:,} of {hits + sent:,} polls answered there ({stale:,} with the "
            f"expired copy while one request updated it; {timeouts:,} waited 1 s for the lock and asked themselves){drawn}")


def _latency(r: dict) -> list[str]:
    lines = ["## Latency per endpoint (ms)", "",
             "Measured from the moment a request had a connection; retried attempts count separately.", ""]
    for title, table in [("whole drop", r["latency"])] + [(f"phase: {k}", v) for k, v in r.get("latency_by_phase", {}).items()]:
        lines += [f"**{title}**", "", "| endpoint | requests | p50 | p95 | p99 | max | errors (5xx / no answer) |", "|---|---|---|---|---|---|---|"]
        for name, row in table.items():
            lines.append(f"| {name} | {row['count']:,} | {row['p50']} | {row['p95']} | {row['p99']} | {row['max']} | {row['errors']:,} |")
        lines.append("")
    return lines


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


#: Issue 14's goal for the on-sale's status polls, as a client sees them: p99 in milliseconds.
STATUS_P99_GOAL_MS = 200.0
#: The phase that goal is about.
ON_SALE = "on-sale to sold out"


def _server_view(r: dict) -> list[str]:
    """The status poll as the simulator saw it, as the prober saw it, as the web tier timed it,
    and the event loops' lag."""
    server = r.get("server_by_phase") or {}
    prober = (r.get("prober") or {}).get("by_phase") or {}
    if not server and not prober:
        return []
    lines = ["## Where a status poll's time goes", "",
             "Three timings of the same request. **Simulator**: the fans' own status reads, from the moment a request "
             "has a connection until the simulator's loop has read the answer; that loop plays every fan, and its "
             "lateness is in the figure. **Prober**: the status as a client sees it, from a process of its own that "
             "reads real fans' statuses at the fans' poll interval (bench/drop/prober.py); its loop has little else to "
             "do, so its figure is the server's plus loopback. **Web handler**: the web tier's own timing of its "
             "handler (`ticketdrop_http_request_duration_seconds`, interpolated inside its buckets), without the time "
             "a request waits for the web process's loop (`ticketdrop_event_loop_lag_seconds`). A loop's lag is timed "
             "by a timer every 50 ms; a stalled loop runs few timers, so the share of the time each loop was late says "
             "more than the timers' percentiles.", "",
             "| phase | status, simulator p50 / p99 | status, prober p50 / p99 | status, web handler p50 / p99 | "
             "web loops: late share, timers' p99 | simulator loop: late share, longest |", "|---|---|---|---|---|---|"]
    # The phases the web tier was read in, and any other the prober read in (it starts at the on-sale).
    for phase in dict.fromkeys([*server, *(name for name, figures in prober.items() if figures.get("status"))]):
        table = server.get(phase) or {}
        client = (r.get("latency_by_phase", {}).get(phase) or {}).get("status") or {}
        probed = (prober.get(phase) or {}).get("status") or {}
        handler = table.get("/events/{id}/waiting-room/status") or {}
        loop = table.get("event loop lag") or {}
        own = (r.get("simulator_loop_lag_by_phase") or {}).get(phase) or {}
        lines.append(f"| {phase} | {_n(client.get('p50'))} / {_n(client.get('p99'))} ms | {_n(probed.get('p50'))} / "
                     f"{_n(probed.get('p99'))} ms | {_n(handler.get('p50_ms'))} / "
                     f"{_n(handler.get('p99_ms'))} ms | {_share(loop.get('late_share'))}, {_n(loop.get('p99_ms'))} ms | "
                     f"{_share(own.get('late_share'))}, {_n(own.get('max'))} ms |")
    return [*lines, "", *_prober(r)]


def _prober(r: dict) -> list[str]:
    """The prober's own figures per phase, whether it kept up, and the on-sale goal by its figure."""
    p = r.get("prober")
    if not p:
        return []
    lines = [f"The prober: {p['probes']:,} simulated fans, each on a connection of its own, each reading a status every "
             f"~{_n(p['poll_s'])} s, every read with a fan's token it had not read before (as a fan's first status read "
             f"since the draw, most of an on-sale's; {p['repeats']:,} reads repeated a token).", "",
             "| phase | reads | p50 / p95 / p99 / max | errors (5xx / no answer) | wait for its connection p99 / longest | "
             "prober loop: late share, longest |", "|---|---|---|---|---|---|"]
    for phase, figures in p["by_phase"].items():
        row, wait, loop = figures.get("status"), figures["wait"], figures["loop"]
        if not row:
            continue
        lines.append(f"| {phase} | {row['count']:,} | {row['p50']} / {row['p95']} / {row['p99']} / {row['max']} ms | "
                     f"{row['errors']:,} | {_n(wait['p99'])} / {_n(wait['max'])} ms | "
                     f"{_share(loop.get('late_share'))}, {_n(loop.get('max'))} ms |")
    on_sale = (p["by_phase"].get(ON_SALE) or {}).get("status")
    if on_sale:
        verdict = "met" if on_sale["p99"] <= STATUS_P99_GOAL_MS else "missed"
        lines += ["", f"Status p99 <= {STATUS_P99_GOAL_MS:.0f} ms in the on-sale, by the prober's figure: **{verdict}** "
                      f"({on_sale['p99']} ms over {on_sale['count']:,} reads)."]
    return [*lines, ""]


def _fans(r: dict) -> list[str]:
    f = r["fans"]
    lines = ["## Where the fans ended", "", "| outcome | fans |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in sorted(f["outcomes"].items(), key=lambda kv: -kv[1])]
    client = r.get("client") or {}
    if client:
        waits = "; ".join(f"{pool}s p50 {v['p50']:.0f} ms, p99 {v['p99']:.0f} ms" for pool, v in client.items() if v["count"])
        lines += ["", f"Wait inside the simulator for a free connection (not counted in the latencies above): {waits}."]
        for phase, pools in (r.get("client_by_phase") or {}).items():
            for kind, what in (("poll", "polls"), ("waitlist", "waitlist polls")):
                poll = pools.get(kind) or {}
                if poll.get("count"):
                    lines.append(f"- {phase}: {what} waited p50 {poll['p50']:.0f} ms, p99 {poll['p99']:.0f} ms, "
                                 f"longest {poll['max']:.0f} ms ({poll['count']:,} {what})")
    lines += ["", f"Client retries (connection errors, 429/5xx): {f['retries']:,}; joins again after a forgotten token: "
                  f"{f['rejoins']:,}; sent back to the queue by the reservation endpoint: {f.get('requeues', 0):,}.", ""]
    return lines


def _cpu(r: dict) -> list[str]:
    """CPU seconds by kind of process, for the whole drop and per phase (bench.drop.cputime)."""
    total = r.get("cpu_s") or {}
    if not total:
        return []
    more = r.get("cpu") or {}
    cores = r["machine"]["cpus"]
    shared = "; every host shares this machine's cores" if r.get("hosts") else ""
    lines = ["## CPU by process", "",
             "CPU seconds used during the drop, from the crowd's start to the drain's end: "
             + ", ".join(f"{k} {v:,.0f}" for k, v in total.items()) + f" (of {r['elapsed_s'] * cores:,.0f} available{shared}).",
             f"PostgreSQL: {more.get('postgres') or 'not counted'}."]
    if more.get("lost"):
        every = f"read every {more['read_every_s']:g} s; " if more.get("read_every_s") else ""
        lines.append(f"Processes that exited between two readings ({every}their CPU since the earlier one is not counted): "
                     + ", ".join(f"{k} {n:,}" for k, n in more["lost"].items()) + ".")
    phases = more.get("by_phase") or {}
    if phases:
        lines += ["", f"| phase | seconds | {' | '.join(total)} | all (share of {cores} cores) | requests | CPU ms per request |",
                  "|---|---|" + "---|" * len(total) + "---|---|---|"]
        for name, row in phases.items():
            used = sum(row["cpu_s"].values())
            share = used / (row["seconds"] * cores) if row["seconds"] > 0 else 0.0
            per_request = f"{used * 1000 / row['requests']:,.2f}" if row["requests"] else "n/a"
            lines.append(f"| {name} | {_n(row['seconds'])} | " + " | ".join(_n(row["cpu_s"].get(k, 0.0)) for k in total)
                         + f" | {_n(round(used, 1))} ({share:.0%}) | {row['requests']:,} | {per_request} |")
    return [*lines, ""]


def _waitlist(r: dict) -> list[str]:
    w = r["fans"].get("waitlist")
    if not w:
        return []
    c = r["config"]
    db = (r["invariants"].get("summary") or {}).get("waitlist") or {}
    peak = r["fans"].get("waitlist_server_peak") or {}
    lines = ["## Waitlist", "",
             f"{c.get('waitlist_share', 0):.0%} of the fans told \"sold out\" join the tier's waitlist and wait up to "
             f"{c.get('waitlist_patience_s')} s for an offer, then leave it; an offer is paid like a hold "
             f"({c['fail_share']:.0%} of payments fail).", "",
             "| | fans' view | database after the drain |", "|---|---|---|",
             f"| joined (join refused: {w['refused']:,}) | {w['joined']:,} | {sum((db.get('entries') or {}).values()):,} entries |",
             f"| offers made / seen | {w['offers_seen']:,} seen | {_n(db.get('offers_made'))} made |",
             f"| offers taken (paid) | {w['bought']:,} | {_n((db.get('entries') or {}).get('purchased', 0))} purchased |",
             f"| offers whose payment failed | {w['payment_failed']:,} | |",
             f"| offers lapsed | {w['lapsed']:,} (hold ended before payment) | {_n((db.get('entries') or {}).get('lapsed', 0))} lapsed |",
             f"| left without an offer | {w['gave_up']:,} gave up, {w['ended_otherwise']:,} ended otherwise | "
             f"{_n((db.get('entries') or {}).get('left', 0))} left |",
             f"| extra tickets sold from returns | {w['tickets']:,} | {_n(db.get('tickets_sold'))} |", "",
             f"Entries by status in the database: {db.get('entries', {})}. Peak seen in the admin status document: "
             f"{_n(peak.get('waitlist'))} waiting, {_n(peak.get('offers_outstanding'))} offers outstanding.", ""]
    return lines


def _chaos(r: dict) -> list[str]:
    ch = r.get("chaos")
    if not ch:
        return []
    rec = ch["recovery"]
    lines = ["## Faults and recovery", "",
             f"- worker processes SIGKILLed: {ch['kills']} (restarted by the supervisor: {ch['restarts']} restarts in all; "
             f"{ch.get('kills_skipped', 0)} kill times found every worker still booting)",
             f"- duplicate command deliveries injected: {ch['duplicates']:,}",
             f"- web restart (every web process at once): stopped gracefully in {_n(rec.get('web_stop_s'), 2)} s, "
             f"serving again {_n(rec.get('web_downtime_s'), 2)} s after the stop began",
             f"- Redis killed (all data lost) and restarted: healthy after {_n(rec.get('redis_health_s'), 2)} s, "
             f"stock counters rebuilt after {_n(rec.get('redis_counters_s'), 2)} s, waiting room restored after "
             f"{_n(rec.get('room_restored_s'), 2)} s, first reservation decided "
             f"{_n(rec.get('redis_first_decision_s'), 2)} s after, first payment {_n(rec.get('redis_first_payment_s'), 2)} s after",
             "", "| t (s) | fault / recovery | detail |", "|---|---|---|"]
    shown = [e for e in ch["events"] if e[1] != "worker_killed"]
    lines += [f"| {t:.1f} | {kind} | {detail} |" for t, kind, detail in shown]
    return lines + [""]


def _invariants(r: dict) -> list[str]:
    inv = r["invariants"]
    lines = ["## Invariants (read from the database after the drain)", ""]
    lines += [f"- {name}" for name in inv["checked"]]
    lines.append("")
    if inv["violations"]:
        lines += ["**Violations:**", ""] + [f"- {v}" for v in inv["violations"]] + [""]
    s = inv.get("summary") or {}
    if s.get("tiers"):
        lines += ["| tier | capacity | sold | held | paid order quantity |", "|---|---|---|---|---|"]
        lines += [f"| {t['name']} | {t['capacity']:,} | {t['sold']:,} | {t['held']:,} | {t['ordered']:,} |" for t in s["tiers"]]
        lines += ["", f"Orders paid {s.get('orders_paid', 0):,}, tickets {s.get('tickets', 0):,}, admission waves "
                      f"{s.get('waves', 0):,} (positions 1..{s.get('admitted_up_to', 0):,}), reservations by state "
                      f"{s.get('reservations', {})}.", ""]
    return lines


def _hosts(r: dict) -> list[str]:
    """Where each process ran (``make drop-cluster``: one network namespace per host)."""
    if not r.get("hosts"):
        return []
    lines = ["## Hosts", "", "Each host is a network namespace with one veth link to a bridge and a loopback of its own; "
             "processes on different hosts reach each other only over those links.", "",
             "| host | address | runs |", "|---|---|---|"]
    lines += [f"| {h['host']} | {h['address']} | {h['runs']} |" for h in r["hosts"]]
    edge = r.get("edge")
    if edge:
        lines += ["", f"nginx's access log: {edge['requests']:,} requests, {edge['polls']:,} of them waiting-room polls "
                      f"(status, progress), {edge['polls_from_cache']:,} of those answered from nginx's cache "
                      f"({edge['polls_from_cache'] / max(1, edge['polls']):.0%}); "
                      f"{edge['requests'] - edge['polls_from_cache']:,} requests reached a web host."]
    return [*lines, ""]


def write(results: dict, folder: Path) -> Path:
    """Write results.json, the PNG charts and report.md into ``folder``; returns the report path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=1, default=str))
    charts.timeline(results, folder / "timeline.png")
    charts.latency(results, folder / "latency.png")
    charts.throughput(results, folder / "throughput.png")
    lines = _header(results) + _hosts(results) + ["![queue, admitted, holds and sold over time](timeline.png)", ""]
    lines += _phases(results) + ["![throughput by endpoint](throughput.png)", ""]
    lines += _latency(results) + ["![latency percentiles per endpoint](latency.png)", ""] + _server_view(results)
    lines += _fans(results) + _cpu(results) + _waitlist(results) + _chaos(results) + _invariants(results)
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    return path
