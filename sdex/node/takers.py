"""The public book leaves out orders restricted to one taker (attack30 "Fake top of book").

An order whose ``taker`` is not 0x0 is no offer to the market: only that address may take
it. Shown in the book, an ask below every public one (restricted to an address that never
trades) was every node's best ask, "crossed" with bids nothing would settle, at no risk to
its maker. So ``GET /v1/orderbook``, ``GET /v1/depth`` and the websocket's book events (the
page's book, ``sdex book``, the console's) count and sum only the orders anyone may take, and
``/v1/orderbook?takerAddress=X`` the orders X may take (SRA v3's ``takerAddress``). Such
orders are still accepted, stored, gossiped, matched with their taker's orders and listed by
``GET /v1/orders``.

The book (``sdex.book``) keeps them in its levels like any other, its counts and totals
included; this view takes them out: ``TakerIndex`` holds the hashes of the held restricted
orders (pruned as their records are let go), and a read groups those in a level's queue by
level, O(restricted orders held), so a side with none reads the book exactly as before.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Container

from sdex.book import OrderBook, PairBook, Side
from sdex.book.levels import Entry, Level
from sdex.order import ZERO_ADDRESS, SignedOrder

Hidden = dict[tuple[int, int], list[Entry]]
"""(num, den) of a level -> the entries in its queue that the viewer may not take."""
Totals = list[tuple[int, int, int]]


class TakerIndex:
    """The hashes of held orders restricted to one taker, by (maker token, taker token): a
    pair's asks are (base, quote), its bids (quote, base)."""

    __slots__ = ("by_tokens",)

    def __init__(self) -> None:
        self.by_tokens: dict[tuple[str, str], set[bytes]] = {}

    def note(self, signed: SignedOrder) -> None:
        o = signed.order
        if o.taker != ZERO_ADDRESS:
            key = (o.maker_token, o.taker_token)
            held = self.by_tokens.get(key)
            if held is None:
                self.by_tokens[key] = {signed.hash}
            else:
                held.add(signed.hash)

    def count(self, pair: PairBook, side: Side) -> int:
        """How many ``hidden`` reads for ``pair``'s ``side`` (at most)."""
        return len(self.by_tokens.get(_tokens(pair, side), ()))

    def hidden(
        self,
        book: OrderBook,
        held: Container[bytes],
        pair: PairBook,
        side: Side,
        viewer: str | None = None,
    ) -> Hidden:
        """The entries of ``pair``'s ``side`` in their levels' queues (those the book counts
        as offered) that ``viewer`` (None: anyone) may not take, by level, O(restricted
        orders held on that side). Hashes no longer ``held`` are dropped."""
        out: Hidden = {}
        key = _tokens(pair, side)
        hashes = self.by_tokens.get(key)
        if not hashes:
            return out
        gone: list[bytes] = []
        book_side = pair.side(side)
        for h in hashes:
            if h not in held:
                gone.append(h)
                continue
            e = book.find(h)
            if e is None or e.book_side is not book_side or e.taker == viewer:
                continue
            level = e.level
            if level is None or e.dead or e.parked or e.closed is not None:
                continue
            at = out.get((level.num, level.den))
            if at is None:
                out[(level.num, level.den)] = [e]
            else:
                at.append(e)
        if gone:
            hashes.difference_update(gone)
            if not hashes:
                del self.by_tokens[key]
        return out


def _tokens(pair: PairBook, side: Side) -> tuple[str, str]:
    """(maker token, taker token) of the orders of ``pair``'s ``side``."""
    return (pair.base, pair.quote) if side is Side.ASK else (pair.quote, pair.base)


def offered(
    pair: PairBook, side: Side, first: int, end: int, hidden: Hidden
) -> tuple[int, list[Entry], int]:
    """``PairBook.offered`` without the ``hidden`` entries: how many orders ``side`` offers,
    those at places ``first`` to ``end - 1`` in price-time order, and the levels read."""
    if not hidden:
        return pair.offered(side, first, end)
    total = 0
    page: list[Entry] = []
    ranked = pair.side(side).ranked
    for i in range(len(ranked) - 1, -1, -1):
        level = ranked[i]
        out = hidden.get((level.num, level.den))
        n = level.live - (len(out) if out else 0)
        if n > 0 and total < end and total + n > first:  # the page takes some of it
            skip = first - total if first > total else 0  # its public entries before
            slots = sorted(e.slot for e in out) if out else []
            j = _start(level, skip, slots) if slots else level.find(skip)
            want = min(end - total, n) - skip
            queue = level.queue
            q = len(queue)
            out_slots = set(slots)
            while want > 0 and j < q:
                e = queue[j]
                if not e.dead and j not in out_slots:
                    page.append(e)
                    want -= 1
                j += 1
        total += n
    return total, page, len(ranked)


def _start(level: Level, skip: int, hidden: list[int]) -> int:
    """The slot of the ``skip``-th (from 0) live entry of ``level``'s queue whose slot is not
    in ``hidden`` (sorted; all live), which exists. Each step moves ``k`` (a live entry's
    place) forward by the public entries still missing before it, or past a hidden one: at
    most ``len(hidden) + 1`` steps of ``Level.find``."""
    k = skip
    while True:
        j = level.find(k)
        before = k - bisect_left(hidden, j)  # public live entries before slot ``j``
        if before < skip:
            k += skip - before
            continue
        i = bisect_left(hidden, j)
        if i < len(hidden) and hidden[i] == j:
            k += 1
            continue
        return j


def public_totals(totals: Totals, hidden: Hidden) -> Totals:
    """``PairBook.totals`` less what the ``hidden`` entries offer: levels left with nothing
    are dropped."""
    if not hidden:
        return totals
    out: Totals = []
    for n, d, a in totals:
        at = hidden.get((n, d))
        if at is not None:
            a -= sum(e.fillable for e in at)
            if a <= 0:
                continue
        out.append((n, d, a))
    return out


def public_total(level: Level, hidden: Hidden) -> int:
    """A level's total less what its ``hidden`` entries offer (0 at least)."""
    at = hidden.get((level.num, level.den))
    total = level.total
    if at is not None:
        total -= sum(e.fillable for e in at)
    return total if total > 0 else 0
