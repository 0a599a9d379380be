"""Screenshots of the main screens for the README and docs/ui.md.

They go to docs/screenshots/<name>.png when E2E_SCREENSHOTS=1 (``make e2e E2E_SCREENSHOTS=1``
refreshes the README's pictures); otherwise to a temporary directory, so an ordinary test run
leaves the repository untouched.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshot_dir() -> Path:
    if os.environ.get("E2E_SCREENSHOTS") == "1":
        return DOCS_SCREENSHOTS
    return Path(tempfile.gettempdir()) / "ticketdrop-e2e-screenshots"


def shot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page with animations settled; returns its path."""
    directory = screenshot_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path
