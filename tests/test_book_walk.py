"""The book's structure and the walk's cost: dust never waits in a queue, a level an incoming
order cannot trade at is passed in one step, the self-trade query, no import cycles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import Entry, OrderBook, RemovalReason, Side, UnknownPair
from sdex.matching import MatchingEngine, Outcome
from sdex.matching.crossing import crosses_exactly, level_crosses, limit_rank
from sdex.matching.wide import product_gt
from tests import test_layout as layout
from tests.test_book import BASE, BASE2, QUOTE, T0, A, B, C, D, ask, bid, order

NOW = T0


def engine() -> MatchingEngine:
    return MatchingEngine(OrderBook([(BASE, QUOTE), (BASE2, QUOTE)], default_funds=None))


# Asks at 998.09 quote per base: one unit (without rounding) is 100 base for 99,809 quote. A
# bid at 998.1 (its own unit: 10 base for 9,981 quote) with 15,000 quote can pay 15 base
# there, but ceil(15 * 998.09) = 14,972 quote is above its limit 15 * 998.1 = 14,971.5: no
# trade exists between the two at these amounts, though their prices cross.
LEVEL_ASK = (100, 99_809)


def test_a_level_the_incoming_order_cannot_trade_at_is_passed_in_one_visit() -> None:
    eng = engine()
    asks = [ask(A if i % 2 else B, *LEVEL_ASK) for i in range(200)]
    for o in asks:
        assert eng.submit(o, now=NOW).outcome is Outcome.RESTED
    poor = bid(C, 20, 19_962)
    eng.book.set_funds(C, QUOTE, 15_000)
    r = eng.submit(poor, now=NOW)
    assert not r.matches and r.outcome is Outcome.RESTED
    # blocked by its funds, not its size: parked until they change, offered as nothing
    st = eng.book.get(poor.hash)
    assert st is not None and st.resting and st.fillable == 0 and st.status == "unfunded"
    pair = eng.book.pair(BASE, QUOTE)
    assert pair.best_bid() is None  # never crossed
    visited: list[Entry] = []

    def may_match(resting: Entry, incoming: Entry) -> bool:
        visited.append(resting)
        return True

    r = eng.rematch(poor.hash, now=NOW, may_match=may_match, older_only=False)
    assert not r.matches and len(visited) == 1  # one visit for the whole level of 200
    eng.book.set_funds(C, QUOTE, 19_962)  # funds arrive: 20 base at 998.09 fit its limit
    (res,) = eng.uncross(now=NOW)
    assert [(m.resting, m.amounts.left_filled, m.amounts.right_filled) for m in res.matches] == [
        (asks[0], 20, 19_962)
    ]


def test_a_remainder_that_cannot_trade_with_the_best_price_across_is_dust() -> None:
    eng = engine()
    for _ in range(3):
        eng.submit(ask(A, *LEVEL_ASK), now=NOW)
    small = bid(C, 20, 19_962)
    r = eng.submit(small, now=NOW, filled=4_962)  # 15,000 quote left, no funds cap
    assert not r.matches and r.outcome is Outcome.FILLED
    assert r.removed == ((small.hash, RemovalReason.DUST),)
    assert small.hash not in eng.book and eng.book.pair(BASE, QUOTE).best_bid() is None


def test_dust_with_fills_in_flight_waits_then_closes_as_filled() -> None:
    eng = engine()
    a = ask(A, 10, 4)  # unit: 5 base for 2 quote
    assert eng.submit(a, now=NOW).outcome is Outcome.RESTED
    r = eng.submit(bid(B, 8, 4), now=NOW)  # takes 8 base at most... in whole units: 5 or 10
    (m,) = r.matches
    assert (m.amounts.left_filled, m.amounts.right_filled) == (10, 4)
    assert a.hash in eng.book
    r2 = eng.submit(bid(C, 5, 2), now=NOW)
    assert not r2.matches  # the ask is all pending: parked
    eng.release(m)  # the settlement failed: the ask is back, whole
    st = eng.book.get(a.hash)
    assert st is not None and st.fillable == 10
    (again,) = eng.uncross(now=NOW)
    assert [x.amounts.left_filled for x in again.matches] == [10]
    x = again.matches[0]
    eng.confirm(x)
    assert a.hash not in eng.book
    state = eng.book.get(x.incoming.hash)
    assert state is None or state.status in ("filled", "partially_filled")


def test_would_self_trade_asks_only_about_a_crossing_resting_order_of_the_same_maker() -> None:
    eng = engine()
    mine = ask(A, 10, 100)  # 10 per base
    other_pair = ask(A, 10, 50, pair_base=BASE2)
    assert eng.submit(mine, now=NOW).outcome is Outcome.RESTED
    eng.submit(other_pair, now=NOW)
    assert eng.would_self_trade(bid(A, 10, 100))  # crosses at 10
    assert eng.would_self_trade(bid(A, 1, 11), now=NOW)
    assert not eng.would_self_trade(bid(A, 10, 99))  # 9.9 per base: does not cross
    assert not eng.would_self_trade(bid(B, 10, 100))  # another maker
    assert not eng.would_self_trade(ask(A, 10, 100))  # same side
    assert not eng.would_self_trade(bid(A, 10, 100), now=FAR_FUTURE)  # expired by then
    restricted = bid(A, 10, 100, taker=D)  # only D may take it: it never trades with A's ask
    assert not eng.would_self_trade(restricted)
    assert eng.would_self_trade(bid(A, 10, 60, pair_base=BASE2))  # the other pair
    before = eng.book.snapshot()
    eng.book.set_funds(A, BASE, 0)  # nothing offered: no trade possible
    assert not eng.would_self_trade(bid(A, 10, 100))
    eng.book.set_funds(A, BASE, None)
    eng.book.remove(mine.hash, RemovalReason.CANCELLED)
    assert not eng.would_self_trade(bid(A, 10, 100))
    with pytest.raises(UnknownPair):
        eng.would_self_trade(order(A, BASE, 1, BASE2, 1))
    assert before["orders"][0]["hash"] == "0x" + mine.hash.hex()


FAR_FUTURE = 2**63


def test_the_book_package_is_layered() -> None:
    """Inside ``sdex.book``: levels know only types and what is under them (prices, a
    maker's ledger, the log of changes, a level's total and its queue on it: pure), funds
    never the order book (cycles in all of sdex/ are caught by tests/test_layout.py)."""
    graph = {
        name: {m for m in deps if m.startswith("sdex.book.")}
        for name, deps in layout.graph().items()
    }
    under = {"sdex.book.prices", "sdex.book.ledger", "sdex.book.changelog"}
    on_level = {"sdex.book.total", "sdex.book.queue"}
    assert graph["sdex.book.levels"] <= {"sdex.book.types", *on_level, *under}
    assert graph["sdex.book.total"] == {"sdex.book.changelog"}
    assert graph["sdex.book.queue"] == {"sdex.book.total"}
    assert graph["sdex.book.ladder"] <= {"sdex.book.levels", "sdex.book.prices"}
    assert all(graph[m] == set() for m in under)
    assert "sdex.book.orderbook" not in graph["sdex.book.funds"]
    assert "sdex.book.orderbook" not in graph["sdex.book.bookcore"]


def test_side_views_only_show_orders_that_can_trade() -> None:
    eng = engine()
    full = ask(A, 10, 100)
    eng.submit(full, now=NOW)
    eng.book.set_funds(A, BASE, 0)
    pair = eng.book.pair(BASE, QUOTE)
    assert pair.best_ask() is None and [s.hash for s in pair.orders(Side.ASK)] == [full.hash]


def test_prices_closer_than_a_float_tells_apart_get_their_own_levels_in_exact_order() -> None:
    # 2**60 + k base for 2**60 quote (asks) and 2**60 quote for 2**60 + k base (bids): all
    # these prices round to the same float 1.0, so only exact comparison orders them
    eng = engine()
    big = 2**60
    asks = [ask(A, big + k, big) for k in (1, 3, 2)]  # price big/(big+k): k=3 is the lowest
    bids = [bid(B, big + k, big) for k in (5, 7, 6)]  # k=5 is the highest bid
    for o in asks + bids:
        assert eng.submit(o, now=NOW).outcome is Outcome.RESTED  # bids stay below the asks
    pair = eng.book.pair(BASE, QUOTE)
    ask_prices = [lv.price for lv in pair.depth(Side.ASK)]
    bid_prices = [lv.price for lv in pair.depth(Side.BID)]
    assert ask_prices == sorted(ask_prices) and len(set(ask_prices)) == 3
    assert bid_prices == sorted(bid_prices, reverse=True) and len(set(bid_prices)) == 3
    assert float(ask_prices[0]) == float(ask_prices[-1]) == float(bid_prices[0])
    assert max(bid_prices) < min(ask_prices)
    # dropping a level from the middle of a tie keeps the order of the others
    eng.book.remove(asks[2].hash, RemovalReason.CANCELLED)  # the middle ask (k=2)
    assert [lv.price for lv in pair.depth(Side.ASK)] == [ask_prices[0], ask_prices[2]]
    best = pair.best_ask()
    assert best is not None and best.price == ask_prices[0]
    # a bid that crosses only the best of the tied asks takes it and nothing else
    r = eng.submit(bid(C, big + 3, big), now=NOW)
    assert [m.resting for m in r.matches] == [asks[1]]


def test_a_resting_order_matched_in_full_leaves_its_level_and_a_release_restores_its_place() -> (
    None
):
    eng = engine()
    first, second = ask(A, 10, 100), ask(B, 10, 100)
    eng.submit(first, now=NOW)
    eng.submit(second, now=NOW)
    (m,) = eng.submit(bid(C, 10, 100), now=NOW).matches
    assert m.resting == first
    pair = eng.book.pair(BASE, QUOTE)
    # all of it is in flight: known (pending) but out of the level, which holds only `second`
    st = eng.book.get(first.hash)
    assert st is not None and st.resting and st.pending == 10 and st.fillable == 0
    assert [s.hash for s in pair.orders(Side.ASK)] == [second.hash]
    eng.release(m)  # the settlement failed: back ahead of `second`, at its own priority
    assert [s.hash for s in pair.orders(Side.ASK)] == [first.hash, second.hash]
    (m2,) = eng.submit(bid(D, 10, 100), now=NOW).matches
    assert m2.resting == first
    eng.confirm(m2)
    assert first.hash not in eng.book
    (m3,) = eng.submit(bid(D, 10, 100), now=NOW).matches  # the level goes once both are used
    assert m3.resting == second
    eng.confirm(m3)
    assert pair.best_ask() is None and not list(pair.orders(Side.ASK))


@pytest.mark.parametrize("apart", [True, False])
def test_a_release_puts_back_an_order_the_walk_deferred_behind_a_skipped_one_once(
    apart: bool,
) -> None:
    # `held` (only D may take it) stays at the head of the level while the walk passes it and
    # takes all of `later`: `later` leaves the level (deferred) but its slot stays, marked
    # dead, behind the head. Its release must not bring that slot back to life as well.
    # (Since book49 `held` rests apart, in D's private ladder, unless ``apart`` is False.)
    eng = engine()
    pair = eng.book.pair(BASE, QUOTE)
    if not apart:
        pair.bids.private = pair.asks.private = None
    held, later = ask(A, 10, 100, taker=D), ask(B, 10, 100)
    eng.submit(held, now=NOW)
    eng.submit(later, now=NOW)
    (m,) = eng.submit(bid(C, 10, 100), now=NOW).matches
    assert m.resting == later
    assert [s.hash for s in pair.orders(Side.ASK)] == [held.hash]
    eng.release(m)  # both sides back: the bid too (it crosses only `held`, not C's to take)
    assert [s.hash for s in pair.orders(Side.ASK)] == [held.hash, later.hash]
    assert len(pair) == 3
    (lv,) = pair.depth(Side.ASK)  # (the public depth: `held` is D's only, apart)
    assert (lv.orders, lv.fillable) == ((1, 10) if apart else (2, 20))
    eng.book.remove(m.incoming.hash, RemovalReason.CANCELLED)
    (m2,) = eng.submit(bid(C, 20, 200), now=NOW).matches  # `later` once, then it rests
    assert (m2.resting, m2.amounts.left_filled) == (later, 10)
    eng.confirm(m2)
    assert later.hash not in eng.book
    assert [s.hash for s in pair.orders(Side.ASK)] == [held.hash]
    assert [(lv.price, lv.fillable) for lv in pair.depth(Side.ASK)] == ([] if apart else [(10, 10)])


# ---- exact decisions by floats (``sdex.matching.walk``) -------------------------------------

UINT = st.integers(0, 2**256 - 1)


@settings(max_examples=500, deadline=None)
@given(UINT, UINT, UINT, UINT, st.integers(1, 2**64), st.integers(-3, 3))
def test_product_comparisons_by_floats_are_exact(
    a: int, b: int, c: int, d: int, k: int, nudge: int
) -> None:
    assert product_gt(a, b, c, d) == (a * b > c * d)
    # ties and near ties, where the floats cannot tell: the ints decide
    assert product_gt(a * k, b, a, b * k) is False
    d2 = max(b * k + nudge, 0)
    assert product_gt(a * k, b, a, d2) == (a * k * b > a * d2)
    assert product_gt(a, d2, a * k, b) == (a * d2 > a * k * b)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 2**255 - 1),
    st.integers(1, 2**255 - 1),
    st.integers(1, 2**64),
    st.integers(-2, 2),
    st.booleans(),
)
def test_a_level_crosses_an_incoming_limit_exactly_though_floats_decide_most(
    base: int, quote: int, k: int, nudge: int, incoming_bid: bool
) -> None:
    """An ask at quote/base and a bid at (quote * k + nudge) / (base * k): they cross iff
    nudge >= 0, however close the prices (a nudge of 1 in amounts past 2**255 moves the price
    far less than a float can tell)."""
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    bid_quote = quote * k + nudge
    if bid_quote <= 0 or bid_quote > 2**255 - 1 or base * k > 2**256 - 1:
        return
    resting = ask(A, base, quote) if incoming_bid else bid(A, base * k, bid_quote)
    incoming = bid(B, base * k, bid_quote) if incoming_bid else ask(B, base, quote)
    book.add(resting)
    inc = book.register(incoming)
    pair = book.pair(BASE, QUOTE)
    level = next(iter(pair.asks if incoming_bid else pair.bids))
    assert crosses_exactly(level, inc) == (nudge >= 0)
    assert level_crosses(level, inc, limit_rank(inc)) == (nudge >= 0)
