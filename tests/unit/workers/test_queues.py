"""The queues a worker consumes: three, each named with the deployment's QUEUE_PREFIX (an idle
worker fetches from every queue and its delay queue; test_queue_names.py checks the source), all
declared by workers.actors.declare_actors."""

import ast
from pathlib import Path

from dramatiq.brokers.stub import StubBroker

import workers
from workers.actors import declare_actors

WORKERS = Path(workers.__file__).parent


def test_no_module_but_workers_actors_declares_an_actor():
    declaring = sorted(path.name for path in WORKERS.glob("*.py")
                       for node in ast.walk(ast.parse(path.read_text()))
                       if isinstance(node, ast.Call) and ast.unparse(node.func) in {"dramatiq.actor", "actor"}
                       and path.name != "actors.py")
    assert declaring == []


def test_the_workers_consume_three_queues_each_with_the_prefix(settings):
    broker = StubBroker()
    declare_actors(broker, settings.with_(queue_prefix="deploy-a."))
    assert {actor.queue_name for actor in broker.actors.values()} == {
        "deploy-a.checkout", "deploy-a.reservations", "deploy-a.system"}
