"""No dust trade: with a minimum for a token (``OrderBook.minimums``), the engine never
makes a match that moves less than the resting order's lot (the fewest whole units at its
price that reach the minimum), a remainder below it is closed as dust (shown ``filled``),
and an order whose maker funds less than its lot is parked (``unfunded``), never matched.
With no minimum the book trades exactly as before (the other matching tests)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook, RemovalReason
from sdex.matching import MatchingEngine, Outcome
from sdex.order import SignedOrder
from tests.test_book import BASE, BASE2, QUOTE, T0, A, B, C, D, ask, bid

NOW = T0
MIN_BASE = 10
MIN_QUOTE = 10


def engine(minimums: dict[str, int] | None = None, funds: int | None = None) -> MatchingEngine:
    book = OrderBook([(BASE, QUOTE), (BASE2, QUOTE)], default_funds=funds)
    book.minimums = dict(minimums if minimums is not None else {BASE: MIN_BASE, QUOTE: MIN_QUOTE})
    return MatchingEngine(book)


def test_a_match_below_the_resting_minimum_is_never_made() -> None:
    eng = engine()
    resting = ask(A, 100, 1000)  # unit 1 base, lot 10
    eng.submit(resting, NOW)
    r = eng.submit(bid(B, 5, 50), NOW)  # 5 base: below the minimum
    assert r.matches == ()
    st_ = eng.book.get(resting.hash)
    assert st_ is not None and (st_.filled, st_.pending, st_.fillable) == (0, 0, 100)
    # the same without a minimum: it trades
    eng0 = engine({})
    eng0.submit(resting, NOW)
    assert len(eng0.submit(bid(B, 5, 50), NOW).matches) == 1


def test_a_remainder_below_the_minimum_is_closed_as_dust() -> None:
    eng = engine()
    resting = ask(A, 100, 1000)
    eng.submit(resting, NOW)
    r = eng.submit(bid(B, 95, 950), NOW)
    assert [m.amounts.left_filled for m in r.matches] == [95]
    eng.confirm_all(r.matches)
    st_ = eng.book.get(resting.hash)
    assert st_ is None or st_.closed is RemovalReason.DUST  # 5 left: below 10, not offered
    assert eng.book.get(r.order.hash) is None or r.outcome is Outcome.FILLED


def test_the_walk_stops_at_a_dust_remainder_of_the_incoming_order() -> None:
    eng = engine()
    first, second = ask(A, 95, 950), ask(C, 100, 1000)
    eng.submit(first, NOW)
    eng.submit(second, NOW)
    r = eng.submit(bid(B, 100, 1000), NOW)  # after the first, 50 quote: 5 base, dust
    assert [m.resting.hash for m in r.matches] == [first.hash]
    st_ = eng.book.get(second.hash)
    assert st_ is not None and st_.fillable == 100 and st_.pending == 0


def test_a_maker_funding_less_than_the_lot_is_never_matched() -> None:
    eng = engine(funds=5)  # every maker: 5 of each token, below the minimum of 10
    resting = ask(A, 100, 1000)
    eng.submit(resting, NOW)
    st_ = eng.book.get(resting.hash)
    assert st_ is not None and st_.status == "unfunded" and st_.fillable == 0
    eng.book.set_funds(B, QUOTE, 10**6)
    assert eng.submit(bid(B, 100, 1000), NOW).matches == ()


BAD = [
    # (name, resting ask (base, quote), incoming bid (base, quote), left_filled of each match)
    ("bid below the lot", (100, 1000), (9, 90), []),
    ("bid at the lot", (100, 1000), (10, 100), [10]),
    ("a lot of whole units: unit 3, lot 12", (99, 330), (10, 36), []),
    ("a lot of whole units, bought", (99, 330), (12, 40), [12]),
    ("an ask below the lot rests as dust", (9, 90), (100, 1000), []),
]


def test_bad_cases() -> None:
    for name, (ab, aq), (bb, bq), want in BAD:
        eng = engine()
        a = ask(A, ab, aq)
        eng.submit(a, NOW)
        r = eng.submit(bid(B, bb, bq), NOW)
        assert [m.amounts.left_filled for m in r.matches] == want, name


def _lot(o: SignedOrder, least: int) -> int:
    from math import gcd

    m, t = o.order.maker_amount, o.order.taker_amount
    unit = m // gcd(m, t)
    return max(unit, -(-least // unit) * unit)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 40),
    st.lists(
        st.tuples(
            st.booleans(), st.integers(1, 300), st.integers(1, 3000), st.sampled_from([A, B, C, D])
        ),
        min_size=1,
        max_size=25,
    ),
)
def test_no_match_moves_less_than_the_lot(
    min_base: int, min_quote: int, orders: list[tuple[bool, int, int, str]]
) -> None:
    """Every match: the resting order gives at least its lot (the minimum in whole units,
    or one unit); after each walk (its
    matches settled) no order offered in a queue offers less than its lot."""
    eng = engine({BASE: min_base, QUOTE: min_quote})
    least = {BASE: min_base, QUOTE: min_quote}
    for is_ask, base, quote, maker in orders:
        o = ask(maker, base, quote) if is_ask else bid(maker, base, quote)
        r = eng.submit(o, NOW)
        for m in r.matches:
            ro = m.resting.order
            a = m.amounts
            e = m.resting_entry
            assert e is not None
            if e.aon:  # all or nothing (dust38): the whole rest, within both minimums
                assert a.left_filled == e.lot >= least[ro.maker_token]
                assert a.right_filled >= least[ro.taker_token]
            else:
                assert a.left_filled >= _lot(m.resting, least[ro.maker_token])
            assert a.right_filled >= max(1, least[ro.taker_token])
        eng.confirm_all(r.matches)
        for pair in eng.book.pairs:
            for side in (pair.bids, pair.asks):
                for level in side.ranked:
                    for e in level.active():
                        assert e.fillable >= e.lot, e


def test_a_snapshot_keeps_the_minimums() -> None:
    eng = engine()
    resting = ask(A, 100, 1000)
    eng.submit(resting, NOW)
    book = OrderBook.restore(eng.book.snapshot())
    assert book.minimums == {BASE: MIN_BASE, QUOTE: MIN_QUOTE}
    assert MatchingEngine(book).submit(bid(B, 5, 50), NOW).matches == ()
    assert "minimums" not in engine({}).book.snapshot()
