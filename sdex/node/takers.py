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
from math import gcd

from sdex.book import OrderBook, PairBook, Side
from sdex.book.levels import BookSide, Entry, Level
from sdex.order import ZERO_ADDRESS, SignedOrder

Hidden = dict[tuple[int, int], list[Entry]]
"""(num, den) of a level -> the entries in its queue that the viewer may not take."""
Totals = list[tuple[int, int, int]]
WINDOW = 4096
"""A page whose end and the side's hidden orders reach at most this far is cut from the
book's own walk from the top (O(``WINDOW``), compiled), deeper ones by a walk of every
level here (O(levels), in Python)."""


class TakerIndex:
    """The hashes of held orders restricted to one taker, by (maker token, taker token) (a
    pair's asks are (base, quote), its bids (quote, base)) and then by their limit price
    (``maker_amount / g``, ``taker_amount / g``): the level they rest at, but for an
    all-or-nothing rest's (``Entry.aon``: at its cost's price).

    The public view (``viewer`` None) of a side is kept between reads and brought up to
    date from the side's log of levels whose total moved (``BookSide.changes``: a hidden
    entry that enters or leaves the queue, or whose fillable moves, moves its level's
    total), reading the restricted orders filed at the moved prices and those that may rest
    elsewhere (``watch``): O(levels moved + their restricted orders + watched ones),
    O(restricted orders on the side) when the log no longer reaches back. A read for one
    taker reads every restricted order on the side.

    ``watch`` (by tokens): the restricted orders last seen other than *plain* (resting in
    its level's queue, nothing filled or in flight): only those may rest at a level other
    than their limit price's (an all-or-nothing rest, dust38: depth41 found one for one
    taker shown in the public depth) or come to one without their limit price's level
    moving (unparked, released). A plain order's every change moves its level's total, so
    it is read then (and watched if no longer plain); a new one is watched until read."""

    __slots__ = ("by_tokens", "views", "watch")

    def __init__(self) -> None:
        self.by_tokens: dict[tuple[str, str], dict[tuple[int, int], set[bytes]]] = {}
        self.views: dict[tuple[str, str], tuple[int, Hidden]] = {}
        """(maker token, taker token) -> the side's log cursor and its public view then."""
        self.watch: dict[tuple[str, str], set[bytes]] = {}

    def note(self, signed: SignedOrder) -> None:
        o = signed.order
        if o.taker == ZERO_ADDRESS:
            return
        tokens = (o.maker_token, o.taker_token)
        g = gcd(o.maker_amount, o.taker_amount) or 1
        price = (o.maker_amount // g, o.taker_amount // g)
        levels = self.by_tokens.get(tokens)
        if levels is None:
            levels = self.by_tokens[tokens] = {}
        held = levels.get(price)
        if held is None:
            levels[price] = {signed.hash}
        else:
            held.add(signed.hash)
        self.watch.setdefault(tokens, set()).add(signed.hash)

    def forget(self, signed: SignedOrder) -> None:
        """``signed``'s record leaves memory (evicted, closed): its hash leaves the index."""
        o = signed.order
        if o.taker == ZERO_ADDRESS:
            return
        tokens = (o.maker_token, o.taker_token)
        levels = self.by_tokens.get(tokens)
        if levels is None:
            return
        g = gcd(o.maker_amount, o.taker_amount) or 1
        price = (o.maker_amount // g, o.taker_amount // g)
        watch = self.watch.get(tokens)
        if watch is not None:
            watch.discard(signed.hash)
            if not watch:
                del self.watch[tokens]
        hashes = levels.get(price)
        if hashes is not None:
            hashes.discard(signed.hash)
            if not hashes:
                del levels[price]
                if not levels:
                    del self.by_tokens[tokens]

    def count(self, pair: PairBook, side: Side) -> int:
        """How many restricted orders ``pair``'s ``side`` has at most (what a read walks)."""
        return sum(len(h) for h in self.by_tokens.get(_tokens(pair, side), {}).values())

    def hidden(
        self,
        book: OrderBook,
        held: Container[bytes],
        pair: PairBook,
        side: Side,
        viewer: str | None = None,
    ) -> Hidden:
        """The entries of ``pair``'s ``side`` in their levels' queues (those the book counts
        as offered) that ``viewer`` (None: anyone) may not take, by level. Hashes no longer
        ``held`` are dropped. (The public view is the index's own: not to be changed.)"""
        tokens = _tokens(pair, side)
        levels = self.by_tokens.get(tokens)
        if not levels:
            self.views.pop(tokens, None)
            return {}
        book_side = pair.side(side)
        watch = self.watch.setdefault(tokens, set())
        if viewer is not None:
            out: Hidden = {}
            for price in list(levels):
                self._level(book, held, book_side, levels, price, viewer, out, watch)
            return out
        view = self.views.get(tokens)
        moved, cursor = book_side.changes(view[0] if view is not None else -1)
        if view is None or moved is None:
            out = {}
            for price in list(levels):
                self._level(book, held, book_side, levels, price, None, out, watch)
        else:
            out = view[1]
            keys = {(level.num, level.den) for level in moved}
            for key in keys:
                out.pop(key, None)
            read: set[bytes] = set()
            for key in keys:
                price = (key[1], key[0]) if side is Side.ASK else key
                if price in levels:
                    read.update(levels[price])
                    self._level(book, held, book_side, levels, price, None, out, watch, keys)
            for h in [h for h in watch if h not in read] if keys else ():
                self._entry(book, held, book_side, h, None, out, watch, keys)
        self.views[tokens] = (cursor, out)
        return out

    @staticmethod
    def _level(
        book: OrderBook,
        held: Container[bytes],
        book_side: BookSide,
        levels: dict[tuple[int, int], set[bytes]],
        price: tuple[int, int],
        viewer: str | None,
        out: Hidden,
        watch: set[bytes],
        keys: set[tuple[int, int]] | None = None,
    ) -> None:
        """Into ``out``: the entries filed at one limit price in their level's queue that
        ``viewer`` may not take (only those at the levels ``keys`` if given; hashes no
        longer ``held`` dropped from ``levels``)."""
        hashes = levels[price]
        gone = [
            h
            for h in hashes
            if not TakerIndex._entry(book, held, book_side, h, viewer, out, watch, keys)
        ]
        if gone:
            hashes.difference_update(gone)
            if not hashes:
                del levels[price]

    @staticmethod
    def _entry(
        book: OrderBook,
        held: Container[bytes],
        book_side: BookSide,
        h: bytes,
        viewer: str | None,
        out: Hidden,
        watch: set[bytes],
        keys: set[tuple[int, int]] | None,
    ) -> bool:
        """Into ``out``: the entry ``h`` if it is in its level's queue (at one of ``keys``
        if given) and ``viewer`` may not take it; ``watch`` notes it unless plain. False if
        ``h`` is no longer ``held`` (the caller drops it)."""
        if h not in held:
            watch.discard(h)
            return False
        e = book.find(h)
        if e is None or e.book_side is not book_side:  # (held: watched, it may come back)
            return True
        level = e.level
        if level is None or e.dead or e.parked or e.closed is not None:
            watch.add(h)
            return True
        if e.filled or e.pending or e.aon:
            watch.add(h)
        else:
            watch.discard(h)
        if e.taker == viewer:
            return True
        key = (level.num, level.den)
        if keys is not None and key not in keys:
            return True
        at = out.get(key)
        if at is None:
            out[key] = [e]
        else:
            at.append(e)
        return True


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
    hid = sum(len(es) for es in hidden.values())
    if end + hid <= WINDOW:
        # near the top (most pages): the book's own walk of the first ``end + hid`` places
        # (compiled), the hidden ones left out: at least ``end`` public ones among them
        total, raw, read = pair.offered(side, 0, end + hid)
        left_out = {id(e) for es in hidden.values() for e in es}
        public = [e for e in raw if id(e) not in left_out]
        return total - hid, public[first:end], read
    total = 0
    page: list[Entry] = []
    ranked = pair.side(side).ranked
    # by the level itself (an identity lookup per level, no key built): a list's entries
    # are all in one level's queue
    at: dict[Level, list[Entry]] = {es[0].level: es for es in hidden.values() if es[0].level}
    for i in range(len(ranked) - 1, -1, -1):
        level = ranked[i]
        out = at.get(level)
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
    nums = {n for n, _ in hidden}  # (an int looked up per level, a key built only on a hit)
    out: Totals = []
    for t in totals:
        if t[0] in nums:
            n, d, a = t
            at = hidden.get((n, d))
            if at is not None:
                a -= sum(e.fillable for e in at)
                if a <= 0:
                    continue
                t = (n, d, a)
        out.append(t)
    return out


def public_total(level: Level, hidden: Hidden) -> int:
    """A level's total less what its ``hidden`` entries offer (0 at least)."""
    at = hidden.get((level.num, level.den))
    total = level.total
    if at is not None:
        total -= sum(e.fillable for e in at)
    return total if total > 0 else 0
