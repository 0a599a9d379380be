"""Whole numbers in requests. In JSON Schema an "integer" is any number without a fractional
part, so 6796.0 is one (JSON Schema 2020-12 validation, section 6.1.1 and the core spec's
"integer" definition); the server takes what the document promises. Strict otherwise: true,
"2" and 2.5 are not whole numbers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict


def _integral_float_as_int(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def whole_number(*, ge: int, le: int) -> Any:
    """A JSON integer in ``ge..le``: 6796 or 6796.0, never true, "6796" or 6796.5. (The bounds sit
    inside the conversion, so the document states them as minimum/maximum.)"""
    return Annotated[int, Strict(), Field(ge=ge, le=le), BeforeValidator(_integral_float_as_int)]
