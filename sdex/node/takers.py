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

from fractions import Fraction

from sdex.book import PairBook, Side
from sdex.book.ladder import private_of
from sdex.book.levels import BookSide, Entry

Totals = list[tuple[int, int, int]]


def _private(pair: PairBook, side: Side, viewer: str | None) -> BookSide | None:
    ladder = None if viewer is None else private_of(pair.side(side), viewer)
    return ladder if ladder is not None and ladder.ranked else None


def viewer_totals(pair: PairBook, side: Side, viewer: str | None = None) -> Totals:
    """``PairBook.totals`` of what ``viewer`` may take (None: anyone), best first."""
    totals = pair.totals(side)
    ladder = _private(pair, side, viewer)
    if ladder is None:
        return totals
    sums: dict[tuple[int, int], int] = {(n, d): a for n, d, a in totals}
    for level in ladder:
        if level.total:
            key = (level.num, level.den)
            sums[key] = sums.get(key, 0) + level.total
    sign = 1 if side is Side.BID else -1
    return [(n, d, a) for (n, d), a in sorted(sums.items(), key=lambda t: -sign * _price(t))]


def _price(t: tuple[tuple[int, int], int]) -> Fraction:
    return Fraction(t[0][0], t[0][1])


def offered(
    pair: PairBook, side: Side, first: int, end: int, viewer: str | None = None
) -> tuple[int, list[Entry], int]:
    """``PairBook.offered`` of what ``viewer`` may take (None: anyone): how many orders
    ``side`` offers, those at places ``first`` to ``end - 1`` in price-time order, and the
    levels read (the private ladder's included)."""
    ladder = _private(pair, side, viewer)
    if ladder is None:
        return pair.offered(side, first, end)
    extra = [e for level in ladder for e in level.active()]
    total, page, read = pair.offered(side, 0, end)  # at most ``end`` of them on the page
    sign = -1 if side is Side.BID else 1
    both = [(sign * _at(e), e.seq, e) for e in (*page, *extra)]
    both.sort(key=lambda t: (t[0], t[1]))
    return total + len(extra), [t[2] for t in both[first:end]], read + len(ladder.ranked)


def _at(e: Entry) -> Fraction:
    level = e.level
    assert level is not None  # (offered entries are in their level's queue)
    return Fraction(level.num, level.den)
