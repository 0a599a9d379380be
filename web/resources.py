"""The base of the router's two resources that list no routes of their own: the ``/events``
dispatcher (web/eventroutes.py) and the catch-all for requests no route takes (web/middleware.py).

aiohttp's AbstractResource asks every resource for its info, a raw match, its routes and its
length (the router's listings, the OpenAPI document, sub-app prefixes); neither resource has any.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp.web_urldispatcher import AbstractResource, AbstractRoute


class RoutelessResource(AbstractResource):
    """A resource with no routes, no URL and no prefix of its own; subclasses resolve requests."""

    #: Named in the errors of url_for and add_prefix.
    what = "this resource"

    def url_for(self, **kwargs: str) -> Any:
        raise RuntimeError(f"{self.what} has no URL of its own")

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError(f"{self.what} has no prefix")

    def get_info(self) -> dict:
        return {}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(())
