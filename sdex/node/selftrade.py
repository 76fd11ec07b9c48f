"""Intake's self-trade check: the same maker's resting order a wallet's new order would
trade with (``NodeIntake._accept`` refuses it ``SELF_TRADE`` before it is stored)."""

from __future__ import annotations

from collections.abc import Container

from sdex.book import Entry, Side
from sdex.book.errors import BookError
from sdex.book.levels import Level
from sdex.book.orderbook import OrderBook
from sdex.matching.crossing import best_private
from sdex.order import ZERO_ADDRESS, Order


def own_crossing(book: OrderBook, o: Order, skip: Container[bytes] | None = None) -> bytes | None:
    """The hash of a resting order of the same maker that ``o`` would trade with
    (its price crosses, it has something fillable, and neither names another taker:
    left50, a restricted order trades only with its taker's), or None: the best-priced
    one, the oldest among equals. Those in ``skip`` are not: the orders a new order is not
    matched against (kept out, gone on chain in a block not applied yet: ``NodeIntake.
    kept_out``; peers82: a maker's new order crossing his own order cancelled on chain was
    refused ``SELF_TRADE``, though that order could never trade). O(1) when ``o`` crosses
    neither the other side's best public level nor its best one restricted to ``o``'s
    maker (then it crosses none of its maker's); else O(the maker's open orders selling what
    ``o`` buys), not a walk of the other side's crossing levels."""
    if o.taker not in (ZERO_ADDRESS, o.maker):  # (only its taker's orders: not its own)
        return None
    try:
        pair, side = book.route(o)
    except BookError:
        return None
    other = pair.side(Side.ASK if side is Side.BID else Side.BID)
    # the levels that give the most per token paid: if neither crosses, no order of
    # the other side that ``o``'s maker may take does (the usual case: O(1))
    if not _crosses(o, other.best) and not _crosses(o, best_private(other, o.maker)):
        return None
    best: Entry | None = None
    for e in book.orders_of(o.maker, o.taker_token):
        r = e.order
        # incoming gives o.maker_amount for o.taker_amount; resting gives r.maker_amount
        # for r.taker_amount: they cross iff o.taker/o.maker <= r.maker/r.taker
        if (
            e.book_side is other
            and e.level is not None
            and e.fillable > 0
            and r.taker in (ZERO_ADDRESS, o.maker)
            and o.taker_amount * r.taker_amount <= o.maker_amount * r.maker_amount
            and (best is None or _before(e, best))
            and (skip is None or e.hash not in skip)
        ):
            best = e
    return None if best is None else best.hash


def _crosses(o: Order, top: Level | None) -> bool:
    """Whether ``o``'s price crosses ``top``, a level of the other side (exact)."""
    if top is None:
        return False
    give, take = (top.den, top.num) if top.side.is_ask else (top.num, top.den)
    return o.taker_amount * take <= o.maker_amount * give


def _before(a: Entry, b: Entry) -> bool:
    """Whether resting order ``a`` comes before ``b`` of the same book side: a better
    price (more of its maker token per taker token), or the same price and older."""
    x = a.order.maker_amount * b.order.taker_amount
    y = b.order.maker_amount * a.order.taker_amount
    return x > y or (x == y and a.seq < b.seq)
