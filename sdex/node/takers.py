"""The public book leaves out orders restricted to one taker (attack30 "Fake top of book").

An order whose ``taker`` is not 0x0 is no offer to the market: only that address may take
it. Shown in the book, an ask below every public one (restricted to an address that never
trades) was every node's best ask, "crossed" with bids nothing would settle, at no risk to
its maker. So ``GET /v1/orderbook``, ``GET /v1/depth`` and the websocket's book events (the
page's book, ``sdex book``, the console's) count and sum only the orders anyone may take, and
``/v1/orderbook?takerAddress=X`` the orders X may take (SRA v3's ``takerAddress``). Such
orders are still accepted, stored, gossiped, matched with their taker's orders and listed by
``GET /v1/orders``.

The book rests them apart (book49): each side's public ladders hold only orders anyone may
take, and those restricted to ``X`` rest in ``X``'s private ladder of the side
(``BookSide.private``, ``sdex.book.ladder``). So the public book is the book's levels as
they are, and ``X``'s view merges its private ladder in: O(levels + page + X's restricted
orders on the side), never the other takers' restricted orders.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterator
from itertools import islice
from operator import attrgetter

from sdex.book import PairBook, Side
from sdex.book.ladder import private_of
from sdex.book.levels import BookSide, Entry, Level
from sdex.matching.crossing import better_level

Totals = list[tuple[int, int, int]]


def _private(pair: PairBook, side: Side, viewer: str | None) -> BookSide | None:
    ladder = None if viewer is None else private_of(pair.side(side), viewer)
    return ladder if ladder is not None and ladder.ranked else None


def _levels(public: list[Level], private: list[Level]) -> Iterator[tuple[Level, Level | None]]:
    """The levels of two ladders of one side (worst first, as ``BookSide.ranked``), best
    price first; two at one price together (the public one first)."""
    i = len(public) - 1
    k = len(private) - 1
    while i >= 0 or k >= 0:
        if k < 0:
            level, other, took = public[i], None, 1
        else:
            level, other, took = better_level(public, i, private, k)
        i -= took & 1
        k -= took >> 1
        yield level, other


def viewer_totals(pair: PairBook, side: Side, viewer: str | None = None) -> Totals:
    """``PairBook.totals`` of what ``viewer`` may take (None: anyone), best first:
    O(levels of both ladders)."""
    ladder = _private(pair, side, viewer)
    if ladder is None:
        return pair.totals(side)
    out: Totals = []
    for level, other in _levels(pair.side(side).ranked, ladder.ranked):
        total = level.total + (other.total if other is not None else 0)
        if total:
            out.append((level.num, level.den, total))
    return out


def offered(
    pair: PairBook, side: Side, first: int, end: int, viewer: str | None = None
) -> tuple[int, list[Entry], int]:
    """``PairBook.offered`` of what ``viewer`` may take (None: anyone): how many orders
    ``side`` offers, those at places ``first`` to ``end - 1`` in price-time order, and the
    levels read (the private ladder's included): O(levels + page + a level at a price both
    ladders hold)."""
    ladder = _private(pair, side, viewer)
    if ladder is None:
        return pair.offered(side, first, end)
    public = pair.side(side).ranked
    total = 0
    page: list[Entry] = []
    for level, other in _levels(public, ladder.ranked):
        n = level.live + (other.live if other is not None else 0)
        if total < end and total + n > first:  # the page takes some of it
            skip = first - total if first > total else 0
            want = min(end - total, n) - skip
            if other is not None:
                page.extend(_merged_page(level, other, skip, want))
            else:
                queue = level.queue
                slots = (queue[j] for j in range(level.find(skip), len(queue)))
                page.extend(islice((e for e in slots if not e.dead), want))
        total += n
    return total, page, len(public) + len(ladder.ranked)


_seq = attrgetter("seq")


def _merged_page(level: Level, other: Level, skip: int, want: int) -> list[Entry]:
    """Places ``skip`` to ``skip + want - 1`` of the orders of two levels at one price (public
    and private) in time priority: O(``other``'s orders + ``want`` + ``Level.find``), never a
    copy and sort of the public level (review50: any client's ``?takerAddress=`` page made the
    node copy and sort a level of 50,000 public orders for the one order restricted to it)."""
    mine = [*other.active()]  # (the taker's: at most ``max_restricted_per_taker``)
    a = skip - len(mine) if skip > len(mine) else 0  # the page starts at public place >= a
    queue = level.queue
    start = level.find(a) if a < level.live else len(queue)
    c = 0  # orders of ``mine`` before public place ``a``: merged place ``a + c <= skip``
    if a and start < len(queue):
        c = bisect_left(mine, queue[start].seq, key=_seq)
    public = (e for e in islice(queue, start, None) if not e.dead)
    merged = heapq.merge(public, islice(mine, c, None), key=_seq)
    first = skip - a - c
    return list(islice(merged, first, first + want))
