"""Every actor module, imported by the worker process: ``dramatiq workers.actors``."""

from workers import broker  # noqa: F401  (sets the broker first)
from workers import system  # noqa: F401
from workers import reservations  # noqa: F401
from workers import checkout  # noqa: F401
