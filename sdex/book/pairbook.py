"""One token pair's bids and asks, read-only queries in price-time order.

Orders enter and leave through ``OrderBook`` (which also keeps the maker funds they share
across pairs); a ``PairBook`` answers what the pair offers: best bid/ask and depth count
only what can trade now (orders in their level's queue), never more than the makers can
deliver.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from sdex.book.levels import BookSide, Entry, Level
from sdex.book.types import BookOrderState, DepthLevel, Side


class PairBook:
    """Bids and asks of ``base``/``quote``; prices are quote per base, exact."""

    __slots__ = ("asks", "base", "bids", "quote")

    def __init__(self, base: str, quote: str) -> None:
        self.base = base
        self.quote = quote
        self.bids = BookSide(Side.BID)
        self.asks = BookSide(Side.ASK)
        self.bids.opposite = self.asks
        self.asks.opposite = self.bids

    def side(self, side: Side) -> BookSide:
        return self.bids if side is Side.BID else self.asks

    def best_bid(self) -> DepthLevel | None:
        """The highest-priced level with something fillable."""
        return next(self._offered(self.bids), None)

    def best_ask(self) -> DepthLevel | None:
        """The lowest-priced level with something fillable."""
        return next(self._offered(self.asks), None)

    def depth(self, side: Side, levels: int = 10) -> list[DepthLevel]:
        """Up to ``levels`` price levels with something fillable, best first."""
        out: list[DepthLevel] = []
        if levels <= 0:
            return out
        for level in self._offered(self.side(side)):
            out.append(level)
            if len(out) == levels:
                break
        return out

    def totals(self, side: Side) -> list[tuple[int, int, int]]:
        """``(num, den, amount)`` of every level with something fillable, best first: what
        ``depth`` sums, without its ``Fraction`` per level (the node's book events compare
        the whole list a few times a second; compiled, a native loop over the queues)."""
        out: list[tuple[int, int, int]] = []
        ranked = self.side(side).ranked
        for i in range(len(ranked) - 1, -1, -1):
            level = ranked[i]
            queue = level.queue
            total = 0
            for j in range(level.head, len(queue)):
                e = queue[j]
                if not e.dead:  # (dead: closed or parked, offers nothing)
                    total += e.fillable
            if total:
                out.append((level.num, level.den, total))
        return out

    def orders(self, side: Side) -> Iterator[BookOrderState]:
        """Resting orders of one side in price-time priority, unfunded ones included."""
        for level in self.side(side):
            for e in level.entries():
                yield entry_state(e)

    def entries(self, side: Side) -> Iterator[Entry]:
        """Like ``orders`` but the book's live records (for ``sdex.matching`` and tests)."""
        for level in self.side(side):
            yield from level.entries()

    def __len__(self) -> int:
        """How many orders rest in this pair (unfunded and fully pending ones included)."""
        return sum(len(level) for side in (self.bids, self.asks) for level in side)

    def __repr__(self) -> str:
        return f"PairBook(base={self.base}, quote={self.quote}, orders={len(self)})"

    @staticmethod
    def _offered(side: BookSide) -> Iterator[DepthLevel]:
        for level in side:
            total, count = _level_fillable(level)
            if total:
                yield DepthLevel(price=Fraction(level.num, level.den), fillable=total, orders=count)


def _level_fillable(level: Level) -> tuple[int, int]:
    total = count = 0
    for e in level.active():  # parked entries offer nothing
        total += e.fillable
        count += 1
    return total, count


def entry_state(e: Entry) -> BookOrderState:
    """A frozen view of an entry's current state."""
    return BookOrderState(
        order=e.signed,
        side=e.side,
        seq=e.seq,
        filled=e.filled,
        pending=e.pending,
        remaining=e.maker_amount - e.filled - e.pending,
        fillable=0 if e.parked or e.closed is not None else e.fillable,
        resting=e.resting,
        closed=e.closed,
    )
