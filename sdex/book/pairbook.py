"""One token pair's bids and asks, read-only queries in price-time order.

Orders enter and leave through ``OrderBook`` (which also keeps the maker funds they share
across pairs); a ``PairBook`` answers what the pair offers: best bid/ask and depth count
only what can trade now (orders in their level's queue), never more than the makers can
deliver.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from sdex.book.levels import BookSide, Entry
from sdex.book.types import BookOrderState, DepthLevel, Side
from sdex.model import OrderStatus, closed_status


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
        ``depth`` gives, without its ``Fraction`` per level (the node's book events'
        snapshots), O(levels)."""
        out: list[tuple[int, int, int]] = []
        ranked = self.side(side).ranked
        for i in range(len(ranked) - 1, -1, -1):
            level = ranked[i]
            if level.total:
                out.append((level.num, level.den, level.total))
        return out

    def offered(self, side: Side, first: int, end: int) -> tuple[int, list[Entry], int]:
        """How many orders ``side`` offers now (those in their levels' queues, which can
        trade), and those of them at places ``first`` to ``end - 1`` in price-time order:
        a page of ``GET /v1/orderbook``. O(levels + the page), from the levels' counts
        (``Level.live``); also returns how many levels it read.

        A page that starts deep inside one level goes straight to its place in the queue
        while the queue has no dead slot from its head on (O(page)); else it skips whole
        blocks of the queue by their counts of dead slots (``Level.find``: O(page + slots /
        128 + 128), however many are dead; a read changes nothing)."""
        total = 0
        page: list[Entry] = []
        ranked = self.side(side).ranked
        for i in range(len(ranked) - 1, -1, -1):
            level = ranked[i]
            n = level.live
            if total < end and total + n > first:  # the page takes some of this level
                skip = first - total if first > total else 0  # its live entries before
                queue = level.queue
                q = len(queue)
                j = level.find(skip)
                want = min(end - total, n) - skip  # of this level's live entries
                while want > 0 and j < q:
                    e = queue[j]
                    j += 1
                    if not e.dead:
                        page.append(e)
                        want -= 1
            total += n
        return total, page, len(ranked)

    def orders(self, side: Side) -> Iterator[BookOrderState]:
        """Resting orders of one side in price-time priority, unfunded ones included, and
        those restricted to one taker (in their private ladders, ``BookSide.private``)."""
        for e in self.entries(side):
            yield entry_state(e)

    def entries(self, side: Side) -> Iterator[Entry]:
        """Like ``orders`` but the book's live records (for ``sdex.matching`` and tests)."""
        book_side = self.side(side)
        private = book_side.private
        if not private:
            for level in book_side:
                yield from level.entries()
            return
        sign = 1 if book_side.is_ask else -1  # best price first: highest bid, lowest ask
        out = [
            (sign * lv.price, e.seq, e)
            for ladder in (book_side, *private.values())
            for lv in ladder
            for e in lv.entries()
        ]
        out.sort(key=_price_time)
        for t in out:
            yield t[2]

    def __len__(self) -> int:
        """How many orders rest in this pair (unfunded and fully pending ones included)."""
        n = 0
        for side in (self.bids, self.asks):
            for ladder in (side, *(side.private or {}).values()):
                n += sum(len(level) for level in ladder)
        return n

    def __repr__(self) -> str:
        return f"PairBook(base={self.base}, quote={self.quote}, orders={len(self)})"

    @staticmethod
    def _offered(side: BookSide) -> Iterator[DepthLevel]:
        for level in side:  # (parked entries offer nothing: neither counted nor summed)
            if level.total:
                yield DepthLevel(
                    price=Fraction(level.num, level.den), fillable=level.total, orders=level.live
                )


def _price_time(t: tuple[Fraction, int, Entry]) -> tuple[Fraction, int]:
    return t[0], t[1]


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
        lot=e.lot,
        late=e.late and e.fillable >= e.lot,  # (funded: else ``unfunded``, left60)
    )


def entry_status(e: Entry) -> OrderStatus:
    """``entry_state(e).status``, with no view built."""
    closed = e.closed
    if closed is not None:
        return closed_status(closed.value, e.filled == e.maker_amount)
    remaining = e.maker_amount - e.filled - e.pending
    # (held late, it is parked but ``open`` while its funds would let it trade; left60:
    # it showed ``open`` with none)
    late = e.late and e.fillable >= e.lot
    if (0 if e.parked else e.fillable) == 0 and remaining >= e.lot and not late:
        return OrderStatus.UNFUNDED
    if e.filled or e.pending:
        return OrderStatus.PARTIALLY_FILLED
    return OrderStatus.OPEN
