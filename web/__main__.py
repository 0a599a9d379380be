"""The web process: ``python -m web``."""

from __future__ import annotations

import logging

from aiohttp import web

from models.logs import configure_logging
from models.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings, process="web")
    from web.app import create_app

    app = create_app(settings)
    logging.getLogger("ticketdrop.web").info("web listening", extra={"port": settings.port})
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        reuse_port=settings.reuse_port,
        shutdown_timeout=10,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
