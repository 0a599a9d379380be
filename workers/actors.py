"""Every actor module, imported by the worker process: ``dramatiq workers.actors``."""

from workers import (
    broker,  # noqa: F401  (sets the broker first)
    checkout,  # noqa: F401
    orders,  # noqa: F401
    reservations,  # noqa: F401
    system,  # noqa: F401
)
