"""review28: with per-token minimums (``OrderBook.minimums``, dust27's lot), the two reads of
an order's status agree: ``entry_status`` (the registry's, ``GET /v1/orders/{hash}``) judged
"enough left to trade" by the entry's lot, ``BookOrderState.status`` (listings, the
verdicts) by its price unit. An order with fills in flight and less than a lot left, none
fillable, was ``partially_filled`` in one and ``unfunded`` in the other.

settle27's differential test of the two, with minimums set (it ran with none: lot = unit).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from sdex.book import entry_status
from sdex.model import OrderStatus
from tests.bookdriver import BASES, QUOTE, Driver
from tests.test_book_native import _ops
from tests.test_dust27_matching import NOW, A, B, ask, bid, engine


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops())
def test_entry_status_agrees_with_the_view_under_minimums(ops: list[list[Any]]) -> None:
    d = Driver()
    d.book.minimums = {BASES[0]: 7, BASES[1]: 300, QUOTE: 50}
    seen: set[bytes] = set()
    for op in ops:
        d.op(op)
        seen.update(view.hash for view in d.book)
        for h in seen:
            view, e = d.book.get(h), d.book.find(h)
            if view is None or e is None:
                continue
            assert entry_status(e) is view.status, (e.lot, e.unit, view)


def test_a_rest_below_the_lot_with_a_fill_in_flight_reads_the_same() -> None:
    """100 base (lot 10) matched 95, in flight: 5 left, not offered. Both reads say
    ``partially_filled`` (before: the view said ``unfunded``: it offers nothing, but what
    is left is dust, not waiting for funds)."""
    eng = engine()
    resting = ask(A, 100, 1000)
    eng.submit(resting, NOW)
    r = eng.submit(bid(B, 95, 950), NOW)
    assert [m.amounts.left_filled for m in r.matches] == [95]
    view, e = eng.book.get(resting.hash), eng.book.find(resting.hash)
    assert view is not None and e is not None
    assert (view.pending, view.remaining, view.fillable) == (95, 5, 0)
    assert entry_status(e) is OrderStatus.PARTIALLY_FILLED
    assert view.status is OrderStatus.PARTIALLY_FILLED
