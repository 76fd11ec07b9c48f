"""An incoming order that cannot pay a resting order's lot passes it and goes on to worse
levels that still cross, where a smaller lot may fit (book44).

Price-time priority lets it: the order passed cannot trade with this incoming order at all
(what it could pay is below that order's minimum), so it loses nothing by the trade of a
worse-priced one, and it keeps its place. The walk stopped there before, and the incoming
order rested (or was closed as dust) across orders it could trade with.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook
from sdex.matching import MatchingEngine, Outcome, TimeInForce
from tests.test_book import MAKERS, QUOTE, T0, ask, bid, new_book

SELF, BIG, SMALL = MAKERS[0], MAKERS[1], MAKERS[2]


def _book() -> tuple[OrderBook, MatchingEngine]:
    """QUOTE's minimum is 10: a bid at 7/6 (6 BASE for 7 QUOTE a unit) trades at least 14
    QUOTE (two units), one at 1 at least 10."""
    book = new_book(default_funds=None)
    book.minimums[QUOTE] = 10
    return book, MatchingEngine(book)


def test_walk_passes_a_lot_it_cannot_pay_for_a_worse_one_it_can() -> None:
    """An ask of 11 BASE (at least 10 QUOTE) can buy 12 QUOTE of the better bid, less than its
    lot of 14: it passes it and sells its 11 BASE to the worse bid for 11 QUOTE (failed 3 of
    3 before: nothing traded, the ask was closed as dust across the worse bid)."""
    book, engine = _book()
    better = bid(BIG, 60, 70)
    worse = bid(SMALL, 100, 100)
    for signed in (better, worse):
        assert engine.submit(signed, now=T0).outcome is Outcome.RESTED
    result = engine.submit(ask(SELF, 11, 10), now=T0)
    got = [(m.resting.hash, m.amounts.left_filled, m.amounts.right_filled) for m in result.matches]
    assert got == [(worse.hash, 11, 11)]
    assert result.remaining == 0
    assert book.entry(better.hash).fillable == 70  # passed: untouched, in its place
    kept = book.entry(better.hash)
    assert kept.resting and kept.closed is None


@settings(max_examples=200, deadline=None)
@given(
    base=st.integers(1, 40),
    quote=st.integers(1, 40),
    tif=st.sampled_from([TimeInForce.GTC, TimeInForce.IOC]),
)
def test_the_walk_leaves_no_lot_it_could_pay_across(
    base: int, quote: int, tif: TimeInForce
) -> None:
    """Whatever the incoming ask: if what it has left after the walk (its limit crossing the
    worse bid's price, 1) could still pay that bid's lot (10 BASE for 10 QUOTE), the walk
    took from that bid; the better bid keeps everything it did not trade."""
    book, engine = _book()
    better, worse = bid(BIG, 60, 70), bid(SMALL, 100, 100)
    for signed in (better, worse):
        engine.submit(signed, now=T0)
    result = engine.submit(ask(SELF, base, quote), now=T0, tif=tif)
    took = {m.resting.hash for m in result.matches}
    if quote <= base and result.remaining >= 10:
        assert worse.hash in took, result
    taken = sum(m.amounts.left_filled for m in result.matches if m.resting.hash == better.hash)
    assert book.entry(better.hash).fillable == 70 - taken
