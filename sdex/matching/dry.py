"""The walk's helpers outside its loop: the least an incoming order gives in a match, FOK's
verdict on its walk, and the node's self-trade check before it stores an order."""

from __future__ import annotations

from sdex.book.levels import Entry
from sdex.book.orderbook import OrderBook
from sdex.matching.match import Match
from sdex.order import ZERO_ADDRESS, SignedOrder


def least_given(inc: Entry, minimums: dict[str, int] | None) -> int:
    """The least ``inc`` gives in one match as the incoming side: the book's minimum for its
    maker token, or 1. (Not its lot: what it gives is at the resting order's price, and
    need not be whole units of its own.)"""
    if minimums:
        least = minimums.get(inc.order.maker_token, 0)
        if least > 1:
            return least
    return 1


def fills_fully(inc: Entry, matches: tuple[Match, ...]) -> bool:
    """FOK's check, on its walk's ``matches``: filled in full means the order gives all its
    remaining maker amount, or receives at least the taker amount its remaining asks for
    (price improvement can leave it dust)."""
    given = received = 0
    for m in matches:
        given += m.right_filled
        received += m.left_filled
    rem = inc.maker_amount - inc.filled - inc.pending + given  # (before its walk reserved)
    return given == rem or received * inc.maker_amount >= rem * inc.taker_amount


def self_trades(book: OrderBook, order: SignedOrder, now: int | None) -> bool:
    """``MatchingEngine.would_self_trade`` on ``book``."""
    o = order.order
    book.route(o)  # UnknownPair
    for r in book.orders_of(o.maker, o.taker_token):
        ro = r.order
        if (
            r.resting
            and r.offered
            and ro.taker_token == o.maker_token
            and (now is None or now < ro.expiry)
            and ro.taker in (ZERO_ADDRESS, o.maker)
            and o.taker in (ZERO_ADDRESS, o.maker)
            # crosses: r gives rm for rt, the incoming gives im for it; rt/rm <= im/it
            and ro.taker_amount * o.taker_amount <= o.maker_amount * ro.maker_amount
        ):
            return True
    return False
