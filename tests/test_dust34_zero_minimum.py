"""A zero minimum (``--min-amount X=0``, or no minimum for a token) never closes an honest
order the chain would still fill (dust34).

With a zero minimum a resting order's floor was 0, so the engine filled it by any amount;
what was then left below one unit (its lot: ``makerAmount/g`` with ``g`` the gcd of its
amounts, the smallest fill exact at its price) was closed as dust, shown ``filled``, on
every node, while the chain still had it fillable. Real case: an ask of 0.7 WETH (+13 wei)
for 2,100.000017 USDC closed network-wide after a bid bought 1 USDC's worth. The engine now
fills a resting order with no minimum for its token in whole units only (its smallest fill
one unit), so what is left of it is always a whole number of units, each exact at its price:
the contract (``sdex.fillmath``, the twin of LibFill.sol) moves exactly the match's amounts,
rounding against neither side. (A bare book, no minimums at all, as in tests and benches,
trades as before; a node always has minimums, ``minimums_for``.)"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook, RemovalReason
from sdex.fillmath import match_amounts
from sdex.matching import MatchingEngine
from tests.test_book import BASE, BASE2, QUOTE, T0, A, B, ask, bid

NOW = T0
WETH = 10**18
USDC = 10**6


def engine(minimums: dict[str, int] | None) -> MatchingEngine:
    book = OrderBook([(BASE, QUOTE), (BASE2, QUOTE)], default_funds=10**30)
    if minimums is not None:
        book.minimums = dict(minimums)
    return MatchingEngine(book)


ZERO = {BASE: 0, QUOTE: 0}


def test_the_attack_case_leaves_the_ask_open_at_its_whole_amount() -> None:
    for minimums in (ZERO, {BASE: 0, QUOTE: 10}, {QUOTE: 10}):  # none for the ask's token
        eng = engine(minimums)
        resting = ask(A, 7 * WETH // 10 + 13, 2_100 * USDC + 17)  # coprime: one unit, all of it
        eng.submit(resting, NOW)
        r = eng.submit(bid(B, WETH // 3001, 1 * USDC), NOW)  # 1 USDC for what 2999.9 buy
        eng.confirm_all(r.matches)
        e = eng.book.get(resting.hash)
        assert e is not None and e.closed is None, minimums  # not closed as dust: fillable
        assert (e.filled, e.fillable) == (0, resting.order.maker_amount)
        assert r.matches == ()


def test_a_zero_minimum_fills_whole_units_and_leaves_whole_units() -> None:
    eng = engine(ZERO)
    resting = ask(A, 10 * 7 + 0, 10 * 3)  # 70 for 30: unit 7 base for 3 quote
    eng.submit(resting, NOW)
    r = eng.submit(bid(B, 20, 10), NOW)  # could pay 10 quote: 3 units (21 base for 9)
    assert [(m.amounts.left_filled, m.amounts.right_filled) for m in r.matches] == [(21, 9)]
    eng.confirm_all(r.matches)
    e = eng.book.get(resting.hash)
    assert e is not None and e.closed is None and e.fillable == 49


@settings(max_examples=300, deadline=None)
@given(
    unit=st.integers(1, 10**6),
    tunit=st.integers(1, 10**6),
    units=st.integers(1, 50),
    take=st.integers(1, 10**9),
    slack=st.integers(0, 10**3),
    zero=st.booleans(),
)
def test_every_fill_is_exact_at_the_resting_price_and_the_rest_stays_open(
    unit: int, tunit: int, units: int, take: int, slack: int, zero: bool
) -> None:
    """Differential against the contract's arithmetic, over coprime amounts (``unit``,
    ``tunit`` reduced) and zero minimums: each match is what ``matchOrders`` moves with its
    ``maxLeftFill``, at exactly the resting price, and the resting order is either all filled
    or left open with a whole number of units."""
    from math import gcd

    g = gcd(unit, tunit)
    unit, tunit = unit // g, tunit // g
    eng = engine(ZERO if zero else {QUOTE: 0})
    rm, rt = unit * units, tunit * units
    resting = ask(A, rm, rt)
    eng.submit(resting, NOW)
    # a bid at the resting price or better, for any amount
    it = max(1, take * unit // (tunit + slack))
    im = take
    if im * unit < it * tunit:  # keep it crossing
        return
    inc = bid(B, it, im)
    r = eng.submit(inc, NOW)
    filled = 0
    for m in r.matches:
        a = m.amounts
        want = match_amounts(rm, rt, 0, filled, im, it, 0, 0, a.left_filled)
        assert (want.left_filled, want.right_filled) == (a.left_filled, a.right_filled)
        assert a.left_filled * rt == a.right_filled * rm or a.left_filled == rm - filled
        filled += a.left_filled
    eng.confirm_all(r.matches)
    e = eng.book.get(resting.hash)
    if filled < rm:
        assert e is not None and e.closed is None, (rm, rt, filled)
        assert (rm - filled) % unit == 0
    else:
        assert e is None or e.closed is RemovalReason.FILLED or e.closed is not None


def test_the_default_minimum_still_closes_a_remainder_below_it() -> None:
    eng = engine({BASE: 10, QUOTE: 10})
    resting = ask(A, 100, 1000)
    eng.submit(resting, NOW)
    r = eng.submit(bid(B, 95, 950), NOW)
    assert [m.amounts.left_filled for m in r.matches] == [95]


def test_an_underfunded_resting_order_is_filled_in_whole_units_too() -> None:
    """Its fillable, capped by the maker's funds, is not a whole number of units: the fill
    stops at whole units, so its rest (funds may come back) is whole units still."""
    eng = engine(ZERO)
    resting = ask(A, 70, 30)  # unit 7 base for 3 quote
    eng.book.set_funds(A, BASE, 25)  # 3 units and 4 base
    eng.submit(resting, NOW)
    r = eng.submit(bid(B, 70, 30), NOW)
    assert [(m.amounts.left_filled, m.amounts.right_filled) for m in r.matches] == [(21, 9)]
    eng.confirm_all(r.matches)
    e = eng.book.get(resting.hash)
    assert e is not None and e.closed is None and (70 - e.filled) % 7 == 0
