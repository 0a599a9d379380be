"""The one rule for free text in requests: no control characters (C0, DEL, C1), except the
line breaks and tabs a multi-line field allows. PostgreSQL cannot store NUL, and escape
sequences or bare line breaks in a name would reach logs, tickets and the operator console."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

#: A single-line text: no character in U+0000-U+001F or U+007F-U+009F (the JSON schema's pattern).
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
#: A multi-line text also allows tab, line feed and carriage return.
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"

_SINGLE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _refuse(bad: re.Pattern[str], allowed: str):
    def check(value: str) -> str:
        found = bad.search(value)
        if found:
            raise ValueError(f"must not contain control characters{allowed} (found U+{ord(found.group()):04X} "
                             f"at position {found.start()})")
        return value

    return check


#: Text on one line (names, venues, tokens, scanned payloads).
SingleLine = Annotated[str, AfterValidator(_refuse(_SINGLE_LINE_BAD, "")),
                       Field(json_schema_extra={"pattern": SINGLE_LINE_PATTERN})]
#: Text that may span lines (descriptions).
MultiLine = Annotated[str, AfterValidator(_refuse(_MULTI_LINE_BAD, " other than tab and line breaks")),
                      Field(json_schema_extra={"pattern": MULTI_LINE_PATTERN})]
