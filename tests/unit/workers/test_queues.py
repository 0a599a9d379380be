"""Every actor's queue is named through workers.broker.queue, so it carries the deployment's
QUEUE_PREFIX: two deployments on one broker never share a queue, and a worker consumes only
the queues of its own deployment (each queue costs an idle worker a fetch loop)."""

import ast
from pathlib import Path

import workers

WORKERS = Path(workers.__file__).parent


def _actor_queue_names(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "dramatiq.actor":
            for kw in node.keywords:
                if kw.arg == "queue_name":
                    yield kw.value


def test_no_actor_names_its_queue_with_a_bare_string():
    bare = [f"{path.name}:{value.lineno}" for path in sorted(WORKERS.glob("*.py"))
            for value in _actor_queue_names(ast.parse(path.read_text()))
            if not (isinstance(value, ast.Call) and ast.unparse(value.func) == "queue")]
    assert bare == []


def test_the_workers_consume_three_queues_each_with_the_prefix():
    import dramatiq

    from workers import actors  # noqa: F401 - declares every actor
    from workers.broker import queue

    names = {actor.queue_name for actor in dramatiq.get_broker().actors.values()
             if actor.fn.__module__.startswith("workers.")}
    assert names == {queue("checkout"), queue("reservations"), queue("system")}
