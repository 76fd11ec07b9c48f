"""Whether a price level crosses an incoming order's limit, and which resting orders cross.

The engine's price tests (``sdex.matching.engine``): a level's float ``rank`` decides
almost every time (``limit_rank``, within ``TOLERANCE``), and the levels too near to tell
are compared by cross-multiplied amounts (``crosses_exactly``); ``crossing_entries`` lists a
pair's resting orders priced across the other side's best, which ``uncross`` re-matches.
Pure, no I/O; compiled with the engine (``sdex.book.native``).
"""

from __future__ import annotations

from typing import Final

from sdex.book.levels import Entry, Level
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


def crossing_entries(p: PairBook) -> list[Entry]:
    """Fillable resting orders priced across the other side's best fillable price."""
    best_bid = p.best_bid()
    best_ask = p.best_ask()
    if best_bid is None or best_ask is None or best_bid.price < best_ask.price:
        return []
    out: list[Entry] = []
    for level in p.bids:
        if level.num * best_ask.price.denominator < best_ask.price.numerator * level.den:
            break
        out.extend(e for e in level.active() if e.fillable)
    for level in p.asks:
        if level.num * best_bid.price.denominator > best_bid.price.numerator * level.den:
            break
        out.extend(e for e in level.active() if e.fillable)
    return out
