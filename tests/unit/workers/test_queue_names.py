"""Every actor's queue carries QUEUE_PREFIX (workers.broker.queue), so deployments sharing a
RabbitMQ vhost never share a queue; a bare ``queue_name="checkout"`` once slipped in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKERS = Path(__file__).resolve().parents[3] / "workers"


def _queue_name_values(tree: ast.AST) -> list[ast.expr]:
    """Every value given as ``queue_name``: as a keyword or as a dict entry (actor options)."""
    values = [kw.value for node in ast.walk(tree) if isinstance(node, ast.Call) for kw in node.keywords if kw.arg == "queue_name"]
    values += [v for node in ast.walk(tree) if isinstance(node, ast.Dict)
               for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant) and k.value == "queue_name"]
    return values


@pytest.mark.parametrize("path", sorted(WORKERS.glob("*.py")), ids=lambda p: p.name)
def test_every_actor_names_its_queue_through_queue_so_it_carries_the_prefix(path):
    for value in _queue_name_values(ast.parse(path.read_text())):
        assert isinstance(value, ast.Call) and getattr(value.func, "id", None) == "queue", (
            f"{path.name}:{value.lineno}: queue_name={ast.unparse(value)} lacks QUEUE_PREFIX; write queue({ast.unparse(value)})")


def test_the_check_finds_a_bare_queue_name():
    bad = ast.parse('@dramatiq.actor(queue_name="checkout")\ndef f(): pass\n_O = {"queue_name": "system"}')
    assert [ast.unparse(v) for v in _queue_name_values(bad)] == ["'checkout'", "'system'"]
