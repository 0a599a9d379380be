"""Wiring a process to the workers: build the broker, declare the actors, bind the domain's commands.

The worker process is ``python -m workers`` (workers/__main__.py runs Dramatiq's CLI, which calls
:func:`setup` in every process it starts, then consumes the declared queues); the web app factory, the scheduler and
``python -m ticketdrop`` call :func:`wire` with their settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

import dramatiq

from models.commands import bind_commands
from models.settings import Settings
from workers.actors import Actors, declare_actors
from workers.broker import build_broker
from workers.commands import ActorCommands


@dataclass(frozen=True)
class Wiring:
    broker: dramatiq.Broker
    actors: Actors


#: The actors already declared on a broker: Dramatiq refuses a second declaration of a name, and a
#: test process wires its one StubBroker for every app it builds.
_declared: WeakKeyDictionary[dramatiq.Broker, Actors] = WeakKeyDictionary()


def wire(settings: Settings, broker: dramatiq.Broker | None = None) -> Wiring:
    """Declare every actor on ``broker`` (built from BROKER_URL when None; a broker wired before
    keeps its actors), make it Dramatiq's global broker and bind ``models.commands`` to it.
    Returns the broker and its actors."""
    broker = broker if broker is not None else build_broker(settings)
    dramatiq.set_broker(broker)
    actors = _declared.get(broker)
    if actors is None:
        actors = _declared[broker] = declare_actors(broker, settings)
    bind_commands(ActorCommands(actors=actors))
    return Wiring(broker, actors)


def setup() -> None:
    """The worker process's broker, from the environment (``python -m workers``)."""
    wire(Settings.from_env())
