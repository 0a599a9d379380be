"""What the integration and end-to-end tests do about the real servers and programs they need."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """Skip the test locally; fail it when CI=true, where every server must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def mark_directory(items: list[pytest.Item], directory: Path, marker: pytest.MarkDecorator) -> None:
    """Give ``marker`` to every collected test below ``directory`` (a conftest's collection hook)."""
    for item in items:
        if directory in Path(item.path).resolve().parents:
            item.add_marker(marker)
