"""review50: a level both ladders hold (public orders and one restricted to the walking or
viewing taker, book49) was merged by a copy and sort of the whole public level
(``crossing.merged``): one order restricted to ``T`` at the price of a deep public level made
each walk of ``T``'s orders, and any client's ``?takerAddress=T`` page, cost O(that level)
(50,000 public orders: 16 ms a walk that fills one, against 0.01 ms; the node's loop held).
Now the restricted orders (the taker's: few) are met among the public queue by ``seq`` as far
as the walk or the page goes. Work is measured by what it allocates (tracemalloc: a copy of
the level is 8 bytes an order), never by time."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook, RemovalReason, Side
from sdex.matching import MatchingEngine, Outcome, TimeInForce
from sdex.node.takers import offered
from sdex.order import ZERO_ADDRESS
from tests.test_book49_private_ladders import BASE, QUOTE, TAKER, _maker, _signed

DEEP = 20_000
BOUND = 32_768
"""Bytes a walk or a page may allocate at most here: a copy of the level is 160,000."""


def _deep_book() -> tuple[OrderBook, MatchingEngine]:
    """``DEEP`` public asks at one price, one ask restricted to ``TAKER`` among them (newest),
    and one older."""
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    engine = MatchingEngine(book)
    engine.submit(_signed(_maker(10**6), TAKER, BASE, QUOTE, 100, 150), 1, TimeInForce.GTC)
    for k in range(DEEP):
        o = _signed(_maker(k), ZERO_ADDRESS, BASE, QUOTE, 100, 150)
        assert engine.submit(o, 1, TimeInForce.GTC).outcome is Outcome.RESTED
    engine.submit(_signed(_maker(10**6 + 1), TAKER, BASE, QUOTE, 100, 150), 1, TimeInForce.GTC)
    return book, engine


T = TypeVar("T")


def _peak(run: Callable[[], T]) -> tuple[T, int]:
    """``run()``'s result and the most it allocated at once (bytes)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        got = run()
        return got, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_a_takers_walk_through_a_deep_shared_level_costs_what_it_takes() -> None:
    _, engine = _deep_book()
    for n in range(3):  # the older restricted ask first, then the public ones in time order
        bid = _signed(TAKER, ZERO_ADDRESS, QUOTE, BASE, 150, 100)
        got, peak = _peak(lambda bid=bid: engine.submit(bid, 1, TimeInForce.IOC))
        assert peak < BOUND, f"walk {n} allocated {peak} bytes"
        (m,) = got.matches
        assert m.resting.order.maker == (_maker(10**6) if n == 0 else _maker(n - 1))


def test_a_takers_page_of_a_deep_shared_level_costs_its_page() -> None:
    book, _ = _deep_book()
    pair = book.pair(BASE, QUOTE)
    for first in (0, 1, DEEP - 5):
        (total, page, _), peak = _peak(lambda f=first: offered(pair, Side.ASK, f, f + 10, TAKER))
        assert peak < BOUND, f"page at {first} allocated {peak} bytes"
        assert total == DEEP + 2
        every = list(pair.entries(Side.ASK))
        assert page == every[first : first + 10]


@settings(max_examples=60, deadline=None)
@given(
    takers=st.lists(st.booleans(), min_size=1, max_size=40),
    dead=st.sets(st.integers(0, 39)),
    first=st.integers(0, 45),
    size=st.integers(1, 12),
)
def test_pages_of_a_shared_level_are_the_time_order_of_both(
    takers: list[bool], dead: set[int], first: int, size: int
) -> None:
    """Differential: any page of one price held by both ladders (some orders cancelled) is
    the slice of all its orders the viewer may take, in time order."""
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    orders = [
        _signed(_maker(k), TAKER if mine else ZERO_ADDRESS, BASE, QUOTE, 100, 150)
        for k, mine in enumerate(takers)
    ]
    for o in orders:
        book.add(o)
    for k in sorted(dead):
        if k < len(orders):
            book.remove(orders[k].hash, RemovalReason.CANCELLED)
    pair = book.pair(BASE, QUOTE)
    every = list(pair.entries(Side.ASK))
    total, page, _ = offered(pair, Side.ASK, first, first + size, TAKER)
    assert total == len(every)
    assert page == every[first : first + size]
