"""Walking a node's listings (``sdex.client``): pages read by cursor until the last, each
held to the records it was asked for, and a page's ``chainStatus`` (split from
``sdex.client``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from sdex.answers import FillPage, ListingTooLong, NodeProtocolError, Page

MAX_PAGES = 10_000
"""Pages a walk reads at most (``NodeClient.walk``): a node that keeps answering a next page
stops being read there, with an error (10 million records at 1,000 a page)."""
P = TypeVar("P", Page, FillPage)


def walk(fetch: Callable[[str | None], P], max_pages: int, what: str) -> Iterator[P]:
    """A listing's pages: the first (``fetch(None)``), then each page's ``next`` fetched
    until one says null. A walk by cursor lists every record that matched all along once,
    whatever arrives or closes between two pages (a walk by page numbers skips or repeats
    one for each record that comes or goes before the page it reads: README, "Walking a
    listing"). ``NodeProtocolError`` for a node whose walk would not end: a cursor it gave
    twice, or ``ListingTooLong``: a next page still after ``max_pages``."""
    given: set[str] = set()
    cursor: str | None = None
    for _ in range(max_pages):
        got = fetch(cursor)
        yield got
        if got.next is None:
            return
        if got.next in given:
            raise NodeProtocolError(
                f"{what} gave the cursor {got.next!r} twice: the walk would go round forever"
            )
        given.add(got.next)
        cursor = got.next
    raise ListingTooLong(f"{what} still had a next page after {max_pages} pages")


def within_page(got: P, per_page: int, what: str) -> P:
    """``got``, a page asked for ``per_page`` records; ``NodeProtocolError`` if it holds more
    (review19: a walk of such pages, 16 MB each, held whatever a node sent: ``sdex audit``
    kept every record of 10,000 of them)."""
    if len(got.records) > per_page:
        raise NodeProtocolError(
            f"{what} answered {len(got.records)} records for perPage {per_page}"
        )
    return got


def chain_status_of(body: object) -> str:
    """A listing page's ``chainStatus`` (README: present while the node's view of the chain is
    not current), bounded to a short word; "" when absent."""
    status = body.get("chainStatus", "") if isinstance(body, Mapping) else ""
    return (status[:40] or "?") if isinstance(status, str) and status else ""
