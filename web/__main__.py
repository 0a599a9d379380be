"""The web process: ``python -m web [--processes N]`` (N > 1: N processes on one port, web/processes.py)."""

from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web

from models.logs import configure_logging
from models.settings import Settings, run_process
from web import gc_tuning
from web.app import create_app
from web.processes import supervise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="serve from N processes sharing HOST:PORT (SO_REUSEPORT); default 1")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    settings = Settings.from_env()
    configure_logging(settings, process="web")
    if args.processes > 1:
        return supervise(args.processes)
    app = create_app(settings)
    gc_tuning.tune(app, settings.gc_gen0_threshold)
    log = logging.getLogger("ticketdrop.web")
    log.info("web listening", extra={"port": settings.port, "pid": os.getpid(), "reuse_port": settings.reuse_port,
                                     "identity_mode": settings.identity_mode})
    if settings.identity_mode == "demo":
        # Not an error (make run, the seed's clients), but outside a demo every limit binds only
        # honest clients: say so where an operator looks first.
        log.warning("IDENTITY_MODE=demo: fans name themselves with X-User-Id; set IDENTITY_MODE=jwt (or proxy "
                    "behind an authenticating proxy) in production (docs/operators.md)")
    elif settings.identity_mode == "jwt" and not settings.ui_token_script:
        log.warning("IDENTITY_MODE=jwt without UI_TOKEN_SCRIPT: the fan page at / has no way to get a token and "
                    "its requests are refused; set UI_TOKEN_SCRIPT or serve your own page (docs/ui.md)")
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        reuse_port=settings.reuse_port,
        shutdown_timeout=10,
        access_log=None,
        print=None,
    )
    return 0


if __name__ == "__main__":
    run_process(main)
