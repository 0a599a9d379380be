"""``python -m bench.drop [--chaos] [options]``: simulate a ticket drop, check it, report it.

Exit status 0 when every invariant held, 1 when any was violated, 2 when the run could
not happen (bad option, system did not start). The report's folder is printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
from pathlib import Path

from bench.drop.chaos import ChaosPlan
from bench.drop.event import parse_tiers
from bench.drop.fans import Plan
from bench.drop.prober import DEFAULT_PROBES
from bench.drop.run import DropConfig, run_drop
from bench.drop.system import add_process_arguments

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.drop", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    crowd = p.add_argument_group("crowd")
    crowd.add_argument("--fans", type=int, default=100_000, help="fans who join before on-sale")
    crowd.add_argument("--late-fans", type=int, default=None, help="fans who arrive after on-sale (default fans/10)")
    crowd.add_argument("--late-window", type=float, default=20.0, help="seconds over which late fans arrive")
    crowd.add_argument("--join-window", type=float, default=0.0, help="seconds over which pre-sale fans arrive (0: at once)")
    crowd.add_argument("--poll", type=float, default=2.0, help="status poll interval of fans near the front, s")
    crowd.add_argument("--poll-max", type=float, default=None,
                       help="poll interval of fans far back (etaSeconds/4, capped), s (default: max(poll, fans/1000))")
    crowd.add_argument("--fail-share", type=float, default=0.1, help="share of holders whose payment fails")
    crowd.add_argument("--abandon-share", type=float, default=0.1, help="share of holders who walk away")
    crowd.add_argument("--waitlist-share", type=float, default=0.5, help="share of fans told sold out who join the waitlist")
    crowd.add_argument("--waitlist-patience", type=float, default=120.0, help="seconds a waitlisted fan waits for an offer")
    crowd.add_argument("--no-edge-cache", dest="edge_cache", action="store_false",
                       help="every fan's progress poll reaches the web tier (default: through a simulated edge cache)")
    crowd.add_argument("--connections", type=int, default=256, help="simulator's connections for fans' commands")
    crowd.add_argument("--poll-connections", type=int, default=128, help="simulator's connections for status polls")
    crowd.add_argument("--waitlist-connections", type=int, default=None,
                       help="simulator's connections for waitlisted fans' polls of /me/waitlist (default: from their "
                            "expected rate, all fans x waitlist share / 5 s x 0.25 s a poll, 32-512)")
    crowd.add_argument("--probes", type=int, default=DEFAULT_PROBES,
                       help="simulated fans of the status prober, a process of its own timing status polls "
                            "without the simulator's loop (0: no prober)")
    crowd.add_argument("--seed", type=int, default=1)
    sale = p.add_argument_group("event and system")
    sale.add_argument("--tiers", type=parse_tiers, default=None,
                      help="name:price_cents:capacity[:per_user_limit],... (default: 3 tiers, fans x capacity-share tickets)")
    sale.add_argument("--capacity-share", type=float, default=0.2)
    add_process_arguments(sale, web=2, workers=2)
    sale.add_argument("--wave-size", type=int, default=None, help="positions per admission wave (default max(50, fans/100))")
    sale.add_argument("--wave-interval", type=float, default=1.0, help="seconds between waves")
    sale.add_argument("--hold-ttl", type=int, default=60, help="HOLD_TTL_S for the drop (the product default is 180)")
    sale.add_argument("--offer-ttl", type=int, default=None,
                      help="OFFER_TTL_S for the drop (default: the product's 600; shorter for runs that must drain)")
    sale.add_argument("--admission-ttl", type=int, default=None,
                      help="ADMISSION_TTL_S for the drop (default: twice --poll-max, at least 60)")
    sale.add_argument("--sweep-interval", type=float, default=2.0, help="SWEEP_INTERVAL_S for the drop")
    sale.add_argument("--deadline", type=float, default=1800.0, help="hard limit for the crowd, s")
    sale.add_argument("--baseline-requests", type=int, default=20_000)
    stores = p.add_argument_group("stores (default: a fresh PostgreSQL database if one answers, else SQLite; own redis-server)")
    stores.add_argument("--database-url", default=os.environ.get("DROP_DATABASE_URL") or None,
                        help="use this database as is (env DROP_DATABASE_URL)")
    stores.add_argument("--postgres", default=os.environ.get("DROP_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="server on which to create a fresh database ('none': SQLite) (env DROP_POSTGRES_URL)")
    stores.add_argument("--redis-url", default=os.environ.get("DROP_REDIS_URL") or None,
                        help="use this Redis instead of starting one (env DROP_REDIS_URL; no Redis restart under --chaos)")
    stores.add_argument("--broker-url", default=os.environ.get("DROP_BROKER_URL") or None, help="default: the Redis")
    stores.add_argument("--keep-db", action="store_true", help="keep the database created for the run")
    chaos = p.add_argument_group("faults")
    chaos.add_argument("--chaos", action="store_true", help="kill workers, restart web and Redis, duplicate commands")
    chaos.add_argument("--kill-every", type=float, default=4.0, help="seconds between worker SIGKILLs")
    chaos.add_argument("--web-restart-after", type=float, default=5.0, help="seconds after on-sale")
    chaos.add_argument("--redis-restart-after", type=float, default=20.0, help="seconds after on-sale")
    p.add_argument("--out", type=Path, default=None, help="report folder (default var/drop/<run id>)")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def config_from(args: argparse.Namespace, argv: list[str]) -> DropConfig:
    poll_max = args.poll_max if args.poll_max is not None else max(args.poll, args.fans / 1000)
    return DropConfig(
        fans=args.fans, late_fans=args.late_fans, late_window_s=args.late_window, join_window_s=args.join_window,
        tiers=args.tiers, capacity_share=args.capacity_share, web=args.web, workers=args.workers, threads=args.threads,
        wave_size=args.wave_size, wave_interval_s=args.wave_interval, hold_ttl_s=args.hold_ttl, offer_ttl_s=args.offer_ttl,
        admission_ttl_s=args.admission_ttl,
        sweep_interval_s=args.sweep_interval, connections=args.connections, poll_connections=args.poll_connections,
        waitlist_connections=args.waitlist_connections, probes=args.probes, deadline_s=args.deadline,
        baseline_requests=args.baseline_requests, out=args.out, database_url=args.database_url,
        postgres_url=None if args.postgres in ("", "none") else args.postgres, redis_url=args.redis_url,
        broker_url=args.broker_url, keep_db=args.keep_db, seed=args.seed,
        plan=Plan(poll_s=args.poll, poll_max_s=poll_max, fail_share=args.fail_share, abandon_share=args.abandon_share,
                  waitlist_share=args.waitlist_share, waitlist_patience_s=args.waitlist_patience, edge_cache=args.edge_cache),
        chaos=ChaosPlan(kill_every_s=args.kill_every, web_restart_after_s=args.web_restart_after,
                        redis_restart_after_s=args.redis_restart_after) if args.chaos else None,
        command=" ".join(["python -m bench.drop", *map(shlex.quote, argv)]).strip(),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s drop: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    try:
        code, path = asyncio.run(run_drop(config_from(args, argv)))
    except (RuntimeError, ValueError) as exc:
        print(f"drop failed to run: {exc}", file=sys.stderr)
        return 2
    print(f"{'PASS' if code == 0 else 'FAIL'}: report written to {path}")
    return code


if __name__ == "__main__":
    sys.exit(main())
