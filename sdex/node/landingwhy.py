"""Why an IOC or FOK order traded nothing because of the node's landing time (left50).

The node matches by ``NodeState.now``: the chain's time plus the seconds a settlement has
taken to land lately (``StageTimes.landing``, attack48). An order expiring before then is
not matched, though not expired (landing49): the chain would refuse its settlement. An IOC
or FOK order that so met nothing was answered ``dropped`` or ``killed`` with no word of why,
as if nothing crossed it. ``landing_why`` gives the words (its record's ``reason``).
"""

from __future__ import annotations

from sdex.book import Side
from sdex.book.bookbase import BookBase
from sdex.book.ladder import private_of
from sdex.order import Order

LOOKED = 256
"""Crossing resting orders looked at, at most (best price first): a rare path, bounded."""


def landing_why(book: BookBase, o: Order, now: int, by: int) -> str:
    """Why ``o`` (an IOC or FOK order that traded nothing at chain time ``now``, matching
    by ``by``) met nothing for the landing time: it expires before a settlement could land,
    or a public order crossing its price does; "" if neither."""
    if by <= now:
        return ""
    window = f"within {by - now} s, the time a settlement takes to land here lately"
    if now < o.expiry <= by:
        return f"it expires {window}: the chain would refuse its trade"
    found = book.side_of(o)
    if found is None:
        return ""
    pair, side = book.route(o)
    ask = side is Side.ASK
    opp = pair.bids if ask else pair.asks
    looked = 0
    crossing: set[int] = set()  # (the levels crossing its price, by identity)
    # the public ladder, then the one of orders restricted to its maker (book49: a walk
    # merges them; left60: an order restricted to it was no reason)
    for ladder in (opp, private_of(opp, o.maker)):
        for level in () if ladder is None else ladder:  # best price first
            if ask:  # a bid's price num/den at least the ask's limit takerAmount/makerAmount
                crosses = level.num * o.maker_amount >= level.den * o.taker_amount
            else:  # an ask's price at most the bid's limit makerAmount/takerAmount
                crosses = level.num * o.taker_amount <= level.den * o.maker_amount
            if not crosses:
                break
            crossing.add(id(level))
            for e in level.active():
                if now < e.expiry <= by and e.maker != o.maker and e.fillable:
                    return f"the orders it crosses expire {window}: the chain would refuse a trade"
                looked += 1
                if looked >= LOOKED:
                    return ""
            looked += 1  # (a level counts too: levels of parked orders only are not free)
            if looked >= LOOKED:
                return ""
    # the orders a walk met expiring within the window are held apart, out of the queues
    # (``sdex.book.late``, expiry54): those at a crossing level are why too
    for i, e in enumerate(book.late.values()):
        if i >= LOOKED:
            break
        at = e.level  # (the level it was held at)
        crosses = at is not None and id(at) in crossing
        if crosses and e.maker != o.maker and now < e.expiry <= by:
            return f"the orders it crosses expire {window}: the chain would refuse a trade"
    return ""
