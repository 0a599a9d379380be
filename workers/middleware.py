"""Dramatiq middleware we add to every broker (request ids, metrics, logs)."""

from __future__ import annotations

from models.settings import Settings


def extra_middleware(settings: Settings) -> list:
    return []
