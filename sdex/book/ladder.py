"""Where each price level sits in its side: a ``BookSide``'s levels found by price, made,
listed in price order, dropped when empty and kept as spares (``sdex.book.levels`` holds
the records; this module only orders them).

A side keeps its listed levels in ``ranked``, worst price first and best last (the walk
takes and drops levels at the end of a list), with their float ranks in ``ranks`` beside
it: a new level finds its place by bisection on C floats, and only levels whose floats tie
(prices closer than a float tells apart) are ordered by exact cross-multiplication. An
emptied level leaves ``ranked`` but stays in ``levels`` as a spare (prices near the market
empty and fill again all the time), until the spares outnumber the listed levels by more
than ``SPARES``. Functions, not ``BookSide`` methods, so that the records' module stays
under the size it should have; compiled with the book (native calls either way).
"""

from __future__ import annotations

from bisect import bisect_left

from sdex.book.levels import SPARES, BookSide, Entry, Level
from sdex.book.prices import int_gcd, ratio
from sdex.order import ZERO_ADDRESS


def level_at(side: BookSide, num: int, den: int) -> Level:
    """The level at ``num/den`` (reduced) on ``side``, made if new (or a spare listed
    again)."""
    rank = ratio(num, den)
    if side.is_ask:
        rank = -rank
    found = side.by_rank.get(rank)
    if found is None or found.num != num or found.den != den:
        found = side.levels.get((num, den))
        if found is None:
            made = Level(num, den, rank, side)
            side.levels[(num, den)] = made
            if rank not in side.by_rank:
                side.by_rank[rank] = made
            _list(side, made)
            return made
    if not found.listed:  # a spare
        side.spares -= 1
        _list(side, found)
    return found


def ladder_of(e: Entry) -> BookSide:
    """Where ``e`` rests: its side, or, restricted to one taker (``Entry.taker`` not 0x0),
    that taker's private ladder of its side (``BookSide.private``, made if new), so that
    only the walks of that taker's orders meet it (``sdex.matching.walk``: the contract
    fills it only with its taker as the counterparty's maker)."""
    side = e.book_side
    taker = e.taker
    private = side.private
    if taker == ZERO_ADDRESS or private is None:
        return side
    ladder = private.get(taker)
    if ladder is None:
        ladder = private[taker] = BookSide(side.side)
        ladder.private = None
        ladder.taker = taker
        ladder.opposite = side.opposite
        ladder.owner = side.owner
    return ladder


def ladder_at(e: Entry) -> BookSide | None:
    """``ladder_of`` without making one: None if ``e``'s private ladder does not exist."""
    side = e.book_side
    private = side.private
    if e.taker == ZERO_ADDRESS or private is None:
        return side
    return private.get(e.taker)


def private_of(side: BookSide, maker: str) -> BookSide | None:
    """The ladder of ``side``'s orders restricted to ``maker`` as their taker, if any."""
    private = side.private
    return None if private is None else private.get(maker)


def level_of(side: BookSide, e: Entry) -> Level:
    """The level of ``e``'s price (quote per base, reduced: whole units), made if new; an
    all-or-nothing rest's (``Entry.aon``) is the reduced price of its rest and its cost."""
    num, den = price_of(side, e)
    return level_at(side, num, den)


def price_of(side: BookSide, e: Entry) -> tuple[int, int]:
    """``e``'s price on ``side`` as a level's reduced ``(num, den)``, quote per base."""
    unit = e.unit
    tunit = e.tunit
    if e.aon:
        g = int_gcd(unit, tunit)
        unit //= g
        tunit //= g
    if side.is_ask:  # taker / maker
        return tunit, unit
    return unit, tunit  # maker / taker


def _list(side: BookSide, lv: Level) -> None:
    """Put ``lv`` in its place in ``ranked``."""
    rank = lv.rank
    ranks = side.ranks
    ranked = side.ranked
    n = len(ranks)
    i = bisect_left(ranks, rank)
    while i < n and ranks[i] == rank and _worse(side, ranked[i], lv):
        i += 1
    if i == n:
        ranks.append(rank)
        ranked.append(lv)
        side.best = lv
    else:
        ranks.insert(i, rank)
        ranked.insert(i, lv)
    lv.listed = True


def _worse(side: BookSide, a: Level, b: Level) -> bool:
    """Whether ``a``'s price is worse than ``b``'s on ``side`` (exact)."""
    if side.is_ask:  # a higher ask is worse
        return a.num * b.den > b.num * a.den
    return a.num * b.den < b.num * a.den


def drop(side: BookSide, lv: Level) -> None:
    """Take an empty level out of ``ranked``, kept in ``levels`` as a spare until spares are
    too many."""
    ranked = side.ranked
    lv.listed = False
    lv.clear()  # its dead slots: let the closed orders go
    if ranked[-1] is lv:  # the usual case: the best level was used up
        ranked.pop()
        side.ranks.pop()
        side.best = ranked[-1] if ranked else None
    else:
        i = bisect_left(side.ranks, lv.rank)
        while ranked[i] is not lv:
            i += 1
        del ranked[i]
        del side.ranks[i]
    if not ranked and side.taker:  # a private ladder emptied: let it go (its levels
        private = side.opposite.opposite.private  # were all empty spares)
        if private is not None and private.get(side.taker) is side:
            del private[side.taker]
        return
    spares = side.spares = side.spares + 1
    if spares > len(ranked) + SPARES:
        _forget_spares(side)


def _forget_spares(side: BookSide) -> None:
    levels = side.levels
    by_rank = side.by_rank
    for key, lv in list(levels.items()):
        if not lv.listed:
            del levels[key]
            if by_rank.get(lv.rank) is lv:
                del by_rank[lv.rank]
    side.spares = 0
