"""The worker processes: ``python -m workers [Dramatiq's options]`` (``--processes N --threads T ...``).

The same as ``dramatiq workers.entry:setup [options]``, with one difference: every line, Dramatiq's
own included (its supervisor's start-up, signals and shutdown, its worker processes' boot), is
written in LOG_FORMAT like the other processes' lines. Dramatiq's CLI configures logging with
``logging.basicConfig``, which leaves a root logger that already has a handler alone: so the root
logger is configured here, before the CLI runs. The worker processes it forks inherit that
handler, and configure their own at boot (workers.middleware.JsonLoggingMiddleware).
"""

from __future__ import annotations

import sys

from dramatiq import cli

from models.logs import configure_logging
from models.settings import Settings, run_process

#: The broker Dramatiq's CLI loads in every worker process (it wires the actors: workers.entry).
SETUP = "workers.entry:setup"


def main(argv: list[str] | None = None) -> int:
    configure_logging(Settings.from_env(), process="worker")
    args = cli.make_argument_parser().parse_args([SETUP, *(sys.argv[1:] if argv is None else argv)])
    return cli.main(args)


if __name__ == "__main__":
    run_process(main)
