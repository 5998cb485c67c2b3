"""A guard for loops that follow a service's page links or skip tokens: a link seen before, or
more pages than any real answer has, ends the loop with a clear error instead of a hang."""

from __future__ import annotations

from ..core.errors import UnavailableError

# Far beyond any real listing (ARM pages hold hundreds of items, Resource Graph's a thousand).
MAX_PAGES = 10_000


class PageLinks:
    def __init__(self, what: str, max_pages: int = MAX_PAGES) -> None:
        self._what = what
        self._max = max_pages
        self._seen: set[str] = set()

    def follow(self, link: str) -> str:
        """`link`, unless the service gave it before or has sent too many pages."""
        if link in self._seen:
            raise UnavailableError(
                f"the service sent the same next page of {self._what} again: kvctl stops rather than loop",
                hint="the service misbehaves; try again later, or rerun with --debug and report it",
            )
        if len(self._seen) >= self._max:
            raise UnavailableError(
                f"the service sent more than {self._max} pages of {self._what}: kvctl stops there",
                hint="the service misbehaves; try again later, or rerun with --debug and report it",
            )
        self._seen.add(link)
        return link
