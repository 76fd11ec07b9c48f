"""Whether a price level crosses an incoming order's limit, and which resting orders cross.

The engine's price tests (``sdex.matching.engine``): a level's float ``rank`` decides
almost every time (``limit_rank``, within ``TOLERANCE``), and the levels too near to tell
are compared by cross-multiplied amounts (``crosses_exactly``); ``crossing_entries`` lists a
pair's resting orders priced across the other side's best, which ``uncross`` re-matches.
Pure, no I/O; compiled with the engine (``sdex.book.native``).
"""

from __future__ import annotations

from typing import Final

from sdex.book.bookbase import BookBase
from sdex.book.ladder import private_of
from sdex.book.levels import BookSide, Entry, Level
from sdex.book.pairbook import PairBook

TOLERANCE: Final = 1e-15
"""Relative: more than the error of ``limit_rank`` (three roundings) and a level's rank (one)."""


def limit_rank(inc: Entry) -> float:
    """About the rank (``Level.rank``) that a level of the other side needs to cross ``inc``'s
    limit price, within a relative ``TOLERANCE``: from floats of its amounts, so cheap even
    when they pass 62 bits. Levels whose rank is nearer than that are compared exactly
    (``crosses_exactly``)."""
    if inc.book_side.is_ask:  # bids' rank is their price; the ask's limit is T/M
        return float(inc.taker_amount) / float(inc.maker_amount)
    return -(float(inc.maker_amount) / float(inc.taker_amount))  # asks': -price; bid limit M/T


def level_crosses(level: Level, inc: Entry, limit: float) -> bool:
    """Whether the price of ``level`` (of the other side) crosses ``inc``'s limit, exactly;
    ``limit`` is ``limit_rank(inc)``."""
    rank = level.rank
    tol = TOLERANCE * abs(limit)
    if rank >= limit + tol:
        return True
    if rank <= limit - tol:
        return False
    return crosses_exactly(level, inc)


def crosses_exactly(level: Level, inc: Entry) -> bool:
    """``level_crosses`` by cross-multiplied amounts (exact, and dearer)."""
    if inc.book_side.is_ask:  # bid price num/den >= ask limit T/M
        return level.num * inc.maker_amount >= level.den * inc.taker_amount
    return level.num * inc.taker_amount <= level.den * inc.maker_amount  # ask price <= M/T


def better_level(
    ranked: list[Level], i: int, pranked: list[Level], k: int
) -> tuple[Level, Level | None, int]:
    """The walk's next level, of ``ranked[i]`` (public; none if ``i < 0``) and
    ``pranked[k]`` (the incoming maker's private ladder's): the better price, and 1 if
    it is the public one, 2 the private one; or both at one price (the public one first), 3.
    """
    p = pranked[k]
    if i < 0:
        return p, None, 2
    q = ranked[i]
    if p.num == q.num and p.den == q.den:
        return q, p, 3
    if p.rank > q.rank or (p.rank == q.rank and _better(p, q)):
        return p, None, 2
    return q, None, 1


def _better(a: Level, b: Level) -> bool:
    """Whether ``a``'s price is better than ``b``'s, on their side (exact)."""
    if a.side.is_ask:
        return a.num * b.den < b.num * a.den
    return a.num * b.den > b.num * a.den


def best_private(opp: BookSide, maker: str) -> Level | None:
    """The best level of ``opp``'s orders restricted to ``maker`` as their taker, if any."""
    ladder = private_of(opp, maker)
    return None if ladder is None else ladder.best


def crossing_entries(p: PairBook, book: BookBase) -> list[Entry]:
    """Fillable resting orders that may cross an order they may trade with, oldest first.

    The public orders priced across the other side's best public one; and for each
    private ladder (``BookSide.private``: a side's orders restricted to taker ``T``), its
    orders priced across ``T``'s best on the other side and ``T``'s orders there priced
    across its best (of the orders that can trade now: ``_best_live``). Each pair that
    crosses and may trade has both in it (a restricted order trades only with its taker's
    orders), and a walk from any of them meets the other (``sdex.matching.walk``).
    O(public orders across + the fewer of the private ladders and the token's sellers
    (``BookBase.sellers``; only the ladders of takers selling it are visited, left53) +
    those takers' open orders of the token + what
    crosses), never O(restricted x public)."""
    found: dict[bytes, Entry] = {}
    best_bid = p.best_bid()
    best_ask = p.best_ask()
    if best_bid is not None and best_ask is not None and best_bid.price >= best_ask.price:
        bid_price = best_bid.price
        ask_price = best_ask.price
        for level in p.bids:
            if level.num * ask_price.denominator < ask_price.numerator * level.den:
                break
            _add(found, level)
        for level in p.asks:
            if level.num * bid_price.denominator > bid_price.numerator * level.den:
                break
            _add(found, level)
    sellers = book.sellers
    for side, opp, token in ((p.bids, p.asks, p.base), (p.asks, p.bids, p.quote)):
        private = side.private
        if not private:
            continue
        # (only the ladders whose taker sells ``token``: ``BookBase.sellers``, left53)
        makers = sellers.get(token, ())
        if len(private) <= len(makers):
            takers = [t for t in private if t in makers]
        else:
            takers = [t for t in makers if t in private]
        for taker in takers:
            ladder = private[taker]
            top = _best_live(ladder)
            if top is None:  # (its orders all parked: unfunded, in flight)
                continue
            theirs = [
                e
                for e in book.orders_of(taker, token)
                if e.book_side is opp and e.level is not None and not e.parked and e.fillable
            ]
            if not theirs:
                continue
            best = theirs[0].level
            for e in theirs:
                lv = e.level
                if lv is not None and best is not None and _better(lv, best):
                    best = lv
            for level in ladder:
                if best is None or not _cross(level, best):
                    break
                _add(found, level)
            for e in theirs:
                lv = e.level
                if lv is not None and _cross(top, lv):
                    found[e.hash] = e
    out = list(found.values())
    out.sort(key=_seq_of)
    return out


def _best_live(ladder: BookSide) -> Level | None:
    """``ladder``'s best level that holds an order that can trade now (``BookSide.best`` may
    hold parked ones only: review50, one unfunded order restricted to ``T`` priced across
    all of ``T``'s orders had each ``uncross`` re-match every one of them, for nothing).
    O(levels of parked orders above it: at most the taker's bound)."""
    for level in ladder:
        if level.live:
            return level
    return None


def _cross(a: Level, b: Level) -> bool:
    """Whether levels of the two sides of a pair cross in price (exact)."""
    bid, ask = (b, a) if a.side.is_ask else (a, b)
    return bid.num * ask.den >= ask.num * bid.den


def _add(found: dict[bytes, Entry], level: Level) -> None:
    for e in level.active():
        if e.fillable:
            found[e.hash] = e


def _seq_of(e: Entry) -> int:
    return e.seq
