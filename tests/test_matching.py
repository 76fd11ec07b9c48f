"""The matching engine: time in force, priority, exact amounts, self-trade, expiry, takers, dust."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sdex.book import DepthLevel, Entry, OrderBook, RemovalReason, Side
from sdex.fillmath import MatchAmounts, PricesDoNotCross, match_amounts
from sdex.matching import Match, MatchingEngine, MatchResult, Outcome, TimeInForce
from sdex.order import SignedOrder
from tests.test_book import BASE, BASE2, QUOTE, T0, A, B, C, D, ask, bid, new_book

NOW = T0


def engine(default_funds: int | None = None) -> MatchingEngine:
    return MatchingEngine(new_book(default_funds))


def rest(eng: MatchingEngine, *orders: SignedOrder) -> None:
    for o in orders:
        r = eng.submit(o, now=NOW)
        assert r.outcome is Outcome.RESTED and not r.matches


def expected(
    left: SignedOrder, right: SignedOrder, left_avail: int, right_avail: int
) -> MatchAmounts:
    lo, ro = left.order, right.order
    return match_amounts(
        lo.maker_amount, lo.taker_amount, lo.fee_amount, lo.maker_amount - left_avail,
        ro.maker_amount, ro.taker_amount, ro.fee_amount, ro.maker_amount - right_avail,
    )  # fmt: skip


def state(eng: MatchingEngine, o: SignedOrder) -> tuple[int, int, int] | None:
    st = eng.book.get(o.hash)
    return None if st is None else (st.filled, st.pending, st.fillable)


# -- price-time priority and the contract's amounts -------------------------------------------


def test_incoming_order_takes_best_price_then_oldest_at_the_resting_price() -> None:
    eng = engine()
    a_11_old, a_10, a_11_new, a_12 = ask(A, 5, 55), ask(B, 5, 50), ask(C, 5, 55), ask(D, 5, 60)
    rest(eng, a_11_old, a_10, a_11_new, a_12)
    incoming = bid(D, 12, 144)  # up to 12 per base
    r = eng.submit(incoming, now=NOW)
    assert [m.resting.hash for m in r.matches] == [a_10.hash, a_11_old.hash, a_11_new.hash]
    # each at its resting price; the incoming order keeps the improvement
    assert [m.price for m in r.matches] == [Fraction(10), Fraction(11), Fraction(11)]
    assert [m.amounts for m in r.matches] == [
        expected(a_10, incoming, 5, 144),
        expected(a_11_old, incoming, 5, 144 - 50),
        expected(a_11_new, incoming, 5, 144 - 50 - 55),
    ]
    assert r.matches[2].amounts.left_filled == 3  # 39 quote left buys 3 at 11 (33 quote)
    assert all(m.incoming_side is Side.BID and m.incoming == incoming for m in r.matches)
    assert (r.matches[0].base_amount, r.matches[0].quote_amount) == (5, 50)
    assert r.outcome is Outcome.RESTED and r.remaining == 144 - 50 - 55 - 33
    # the 6 quote left are less than one unit at its price (12 quote buy 1 base): not
    # offered while its fills are in flight; it becomes dust once they settle
    assert state(eng, incoming) == (0, 138, 0)
    assert eng.book.get(incoming.hash).status == "partially_filled"  # type: ignore[union-attr]
    assert state(eng, a_11_new) == (0, 3, 2)
    # the 6 quote left cannot buy a base unit at 11 or worse: matching stopped before a_12
    assert r.removed == () and state(eng, a_12) == (0, 0, 5)


def test_ask_incoming_against_bids_with_fees() -> None:
    eng = engine()
    b1 = bid(A, 7, 70, fee=3)  # buys 7 base for 70 quote, pays 3 base... in its taker token
    b2 = bid(B, 9, 81)
    rest(eng, b1, b2)
    incoming = ask(C, 10, 80, fee=8)  # sells 10 base for at least 8 each
    r = eng.submit(incoming, now=NOW)
    assert [m.resting for m in r.matches] == [b1, b2]
    a0, a1 = r.matches[0].amounts, r.matches[1].amounts
    assert a0 == expected(b1, incoming, 70, 10) == MatchAmounts(70, 7, 3, 5)
    assert a1 == expected(b2, incoming, 81, 3)
    assert (a1.left_filled, a1.right_filled) == (27, 3)
    assert r.matches[0].price == Fraction(10) and r.outcome is Outcome.FILLED


# -- time in force ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tif,base,outcome,matched,rests",
    [
        (TimeInForce.GTC, 8, Outcome.RESTED, 5, True),
        (TimeInForce.IOC, 8, Outcome.DROPPED, 5, False),
        (TimeInForce.FOK, 8, Outcome.KILLED, 0, False),
        (TimeInForce.GTC, 5, Outcome.FILLED, 5, True),  # rests while its fills are pending
        (TimeInForce.IOC, 5, Outcome.FILLED, 5, False),
        (TimeInForce.FOK, 5, Outcome.FILLED, 5, False),
        (TimeInForce.IOC, 3, Outcome.FILLED, 3, False),
        (TimeInForce.FOK, 3, Outcome.FILLED, 3, False),
    ],
)
def test_time_in_force(
    tif: TimeInForce, base: int, outcome: Outcome, matched: int, rests: bool
) -> None:
    eng = engine()
    resting = ask(A, 5, 50)
    rest(eng, resting)
    before = eng.book.snapshot()
    incoming = bid(B, base, base * 10)
    r = eng.submit(incoming, now=NOW, tif=tif)
    assert r.outcome is outcome
    assert sum(m.amounts.left_filled for m in r.matches) == matched
    assert r.remaining == (base - matched) * 10
    pair = eng.book.pair(BASE, QUOTE)
    st_in = eng.book.get(incoming.hash)
    assert (st_in is not None and st_in.resting) is rests
    # listed at its level when it has something left; all in flight, it waits off the level
    listed = incoming.hash in [s.hash for s in pair.orders(Side.BID)]
    assert listed is (rests and r.remaining > 0)
    if outcome is Outcome.KILLED:  # nothing at all happened
        assert eng.book.snapshot()["orders"] == before["orders"]
    if not rests and incoming.hash in eng.book:  # known only while its fills are pending
        st = eng.book.get(incoming.hash)
        assert st is not None and st.closed is not None and st.fillable == 0
        for m in r.matches:
            eng.confirm(m)
        assert incoming.hash not in eng.book


def test_fok_counts_price_improvement_as_filled() -> None:
    eng = engine()
    rest(eng, ask(A, 3, 27))  # 9 per base
    incoming = bid(B, 3, 31)  # would pay up to 31: gets 3 for 27, 4 quote left (dust)
    r = eng.submit(incoming, now=NOW, tif=TimeInForce.FOK)
    assert r.outcome is Outcome.FILLED and r.remaining == 4
    assert r.matches[0].amounts.left_filled == 3
    assert eng.book.get(incoming.hash).closed is RemovalReason.UNMATCHED  # type: ignore[union-attr]


def test_fok_kills_when_the_maker_cannot_fund_it_all() -> None:
    eng = engine()
    rest(eng, ask(A, 10, 100))
    eng.book.set_funds(B, QUOTE, 50)
    before = eng.book.snapshot()
    r = eng.submit(bid(B, 10, 100), now=NOW, tif=TimeInForce.FOK)
    assert r.outcome is Outcome.KILLED and not r.matches
    assert eng.book.snapshot()["orders"] == before["orders"]


# -- self-trade, expiry, takers ---------------------------------------------------------------


def test_self_trade_skips_the_resting_order_keeps_it_and_matching_goes_on() -> None:
    eng = engine()
    own, other = ask(A, 5, 50), ask(B, 5, 50)
    rest(eng, own, other)
    r = eng.submit(bid(A, 5, 50), now=NOW)
    assert r.removed == ()  # a self-cross removes nothing (attack29: nodes disagreed)
    assert [m.resting for m in r.matches] == [other]
    assert own.hash in eng.book and state(eng, own) == (0, 0, 5)
    assert all(m.resting.order.maker != m.incoming.order.maker for m in r.matches)


def test_self_trade_leaves_an_underfunded_makers_orders_as_they_were() -> None:
    # A's asks share 10 base: the older (worse-priced) one holds it, the better one is unfunded
    # and is passed over. A's own bid crosses both: it skips them, and all three rest.
    eng = engine()
    eng.book.set_funds(A, BASE, 10)
    older, better = ask(A, 10, 110), ask(A, 10, 100)
    rest(eng, older, better)
    assert state(eng, better) == (0, 0, 0)
    r = eng.submit(bid(A, 10, 110), now=NOW)
    assert not r.removed and not r.matches and r.outcome is Outcome.RESTED
    assert state(eng, older) == (0, 0, 10) and state(eng, better) == (0, 0, 0)


def test_expired_orders_never_match() -> None:
    eng = engine()
    stale = ask(A, 5, 50, expiry=NOW + 10)
    fresh = ask(B, 5, 50)
    rest(eng, stale, fresh)
    later = NOW + 10  # now >= expiry: the contract calls it expired
    r = eng.submit(bid(C, 5, 50), now=later)
    assert r.removed == ((stale.hash, RemovalReason.EXPIRED),)
    assert [m.resting for m in r.matches] == [fresh]
    dead = bid(C, 1, 100, expiry=later)
    r = eng.submit(dead, now=later)
    assert r.outcome is Outcome.EXPIRED and not r.matches and dead.hash not in eng.book


def test_incoming_gtc_filled_in_full_is_indexed_for_expiry_only_if_a_fill_fails() -> None:
    eng = engine()
    book = eng.book
    far = ask(A, 5, 50)  # expires at FAR
    soon = bid(B, 5, 50, expiry=NOW + 10)
    rest(eng, far)
    (m,) = eng.submit(soon, now=NOW).matches  # all of it in flight: deferred, not resting
    assert book.next_expiry() == far.order.expiry  # the walk's fully filled order is not indexed
    eng.release(m)  # its fill failed: it enters its level, and the expiry index
    assert book.get(soon.hash).resting  # type: ignore[union-attr]
    assert book.next_expiry() == NOW + 10
    assert book.expire(NOW + 10) == [(soon.hash, RemovalReason.EXPIRED)]
    # a resting order whose fill fails twice is indexed once
    eng2 = engine()
    rest(eng2, far)
    for _ in range(2):
        (m,) = eng2.submit(bid(C, 5, 50), now=NOW).matches
        eng2.release(m)  # ``far`` deferred then back at its level; the bid too
        eng2.book.remove(m.incoming.hash, RemovalReason.CANCELLED)
    # far, once; the two bids left the index when they were closed
    assert [e.hash for b in eng2.book._expiry_at.values() for e in b] == [far.hash]


def test_taker_restrictions_hold_both_ways() -> None:
    eng = engine()
    for_b, for_c, anyone = ask(A, 1, 10, taker=B), ask(A, 1, 10, taker=C), ask(D, 1, 10)
    rest(eng, for_b, for_c, anyone)
    r = eng.submit(bid(B, 2, 20), now=NOW)
    assert [m.resting for m in r.matches] == [for_b, anyone]
    # an incoming order that names its counterparty matches only that maker
    rest(eng, ask(D, 1, 10), ask(C, 1, 10))
    only_c = bid(B, 5, 50, taker=C)
    r = eng.submit(only_c, now=NOW)
    assert {m.resting.order.maker for m in r.matches} == {C}
    assert len(r.matches) == 1  # for_c names C as taker, not B


# -- dust -------------------------------------------------------------------------------------


def test_a_rest_below_a_unit_rests_all_or_nothing_at_its_own_cost() -> None:
    eng = engine()
    # 1 base left at 0.5 quote per base: 1 base costs ceil(0.5) = 1 quote, twice its price;
    # the least amount that trades at its price is 2 base (its unit). The contract still
    # fills it (1 base for 1 quote, maxLeftFill = 1): it rests, all or nothing, at 1 quote
    # per base (dust38; it was closed as dust)
    older = ask(A, 2, 1)
    r = eng.submit(older, now=NOW, filled=1)
    assert r.outcome is Outcome.RESTED and r.removed == ()
    assert state(eng, older) == (1, 0, 1)
    pair = eng.book.pair(BASE, QUOTE)
    assert pair.best_ask() == DepthLevel(Fraction(1), 1, 1)
    rest(eng, bid(B, 2, 1))  # 0.5 quote per base: its order's price, not its rest's
    r = eng.submit(bid(C, 1, 1), now=NOW)
    assert [m.amounts for m in r.matches] == [MatchAmounts(1, 1, 0, 0)]
    lo = older.order
    assert r.matches[0].amounts == match_amounts(
        lo.maker_amount, lo.taker_amount, 0, 1, 1, 1, 0, 0, 1
    )
    eng.confirm_all(r.matches)
    assert older.hash not in eng.book and pair.best_ask() is None


def test_dust_on_arrival_below_the_minimums_is_closed_and_never_rests() -> None:
    eng = engine()
    eng.book.minimums = {BASE: 2}
    older = ask(A, 2, 1)  # 1 base left: below the base minimum, no match may move it
    r = eng.submit(older, now=NOW, filled=1)
    assert r.outcome is Outcome.FILLED and r.removed == ((older.hash, RemovalReason.DUST),)
    assert older.hash not in eng.book and eng.book.pair(BASE, QUOTE).best_ask() is None


def test_whole_units_trade_when_the_maximal_fill_breaks_the_incoming_limit() -> None:
    eng = engine()
    # 7 base left at 0.4 quote per base (unit: 5 base for 2 quote). All 7 would cost
    # ceil(2.8) = 3 quote: above a bid at the same price (PricesDoNotCross). Capped at whole
    # units, 5 base trade for exactly 2 quote: maxLeftFill = 5 makes the contract agree.
    resting = ask(A, 10, 4)
    assert eng.submit(resting, now=NOW, filled=3).outcome is Outcome.RESTED
    incoming = bid(B, 10, 4)
    with pytest.raises(PricesDoNotCross):
        expected(resting, incoming, 7, 4)
    r = eng.submit(incoming, now=NOW)
    assert [m.amounts for m in r.matches] == [MatchAmounts(5, 2, 0, 0)]
    lo, ro = resting.order, incoming.order
    assert r.matches[0].amounts == match_amounts(
        lo.maker_amount, lo.taker_amount, 0, 3, ro.maker_amount, ro.taker_amount, 0, 0, 5
    )
    # the ask's 2 base left are less than a unit: not offered while its fill is in flight
    assert state(eng, resting) == (3, 5, 0)
    assert state(eng, incoming) == (0, 2, 2) and r.outcome is Outcome.RESTED
    pair = eng.book.pair(BASE, QUOTE)
    assert pair.best_ask() is None and pair.best_bid() == DepthLevel(Fraction(2, 5), 2, 1)
    eng.confirm(r.matches[0])
    # settled: the contract fills those 2 base for ceil(0.8) = 1 quote, so they rest all or
    # nothing at 0.5 (dust38; they were closed as dust), which the bid at 0.4 does not cross
    assert state(eng, resting) == (8, 0, 2)
    assert pair.best_ask() == DepthLevel(Fraction(1, 2), 2, 1)
    r = eng.submit(bid(C, 2, 1), now=NOW)
    assert [m.amounts for m in r.matches] == [MatchAmounts(2, 1, 0, 0)]
    eng.confirm_all(r.matches)
    assert resting.hash not in eng.book  # filled


def test_zero_fill_stops_matching() -> None:
    eng = engine()
    big = ask(A, 1, 1000)  # one indivisible base unit for 1000 quote
    rest(eng, big)
    r = eng.submit(bid(B, 1, 999), now=NOW)  # does not cross
    assert not r.matches
    # an incoming bid at a high price with too little quote to buy one unit
    poor = bid(C, 1, 2000)
    eng.book.set_funds(C, QUOTE, 999)
    r = eng.submit(poor, now=NOW)
    assert not r.matches and r.outcome is Outcome.RESTED
    # it cannot pay one unit (2000 quote) at its own price: parked, offered as nothing
    assert state(eng, poor) == (0, 0, 0)
    assert eng.book.get(poor.hash).status == "unfunded"  # type: ignore[union-attr]
    eng.book.set_funds(C, QUOTE, 2000)  # funds arrive: back in the queue, and it crosses
    (res,) = eng.uncross(now=NOW)
    assert [m.amounts for m in res.matches] == [MatchAmounts(1, 1000, 0, 0)]


# -- after settlement: confirm, release, rematch, uncross -------------------------------------


def test_confirm_and_release_then_rematch() -> None:
    eng = engine()
    a1, a2 = ask(A, 5, 50), ask(B, 5, 50)
    rest(eng, a1, a2)
    r = eng.submit(bid(C, 5, 50), now=NOW)
    (m,) = r.matches
    assert m.resting == a1 and state(eng, a1) == (0, 5, 0)
    # a second bid passes the fully reserved a1 (parked) and takes a2
    r2 = eng.submit(bid(D, 5, 50), now=NOW)
    assert [x.resting for x in r2.matches] == [a2]
    eng.release(m)  # a1's settlement failed: it is offered again, at its old priority
    assert state(eng, a1) == (0, 0, 5)
    assert eng.book.get(m.incoming.hash).closed is None  # type: ignore[union-attr]
    # the released bid re-matches against the older order across: a1
    again = eng.rematch(m.incoming.hash, now=NOW)
    assert [x.resting for x in again.matches] == [a1] and again.outcome is Outcome.FILLED
    eng.confirm(again.matches[0])
    eng.confirm(r2.matches[0], MatchAmounts(5, 50, 0, 0))
    assert len(eng.book) == 0


def test_confirm_with_smaller_actual_amounts() -> None:
    eng = engine()
    a = ask(A, 10, 100)
    rest(eng, a)
    (m,) = eng.submit(bid(B, 10, 100), now=NOW).matches
    eng.confirm(m, MatchAmounts(4, 40, 0, 0))
    assert state(eng, a) == (4, 0, 6)
    assert state(eng, m.incoming) == (40, 0, 60)


def test_confirm_all_confirms_each_match_as_confirm_does() -> None:
    one, many = engine(), engine()
    asks = [ask(A, 5, 50), ask(B, 3, 33), ask(C, 4, 48)]
    for eng in (one, many):
        rest(eng, *asks)
    incoming = bid(D, 10, 120)
    r1 = one.submit(incoming, now=NOW)
    r2 = many.submit(incoming, NOW)  # ``now`` by position: the same call
    assert r1 == r2 and len(r1.matches) == 3
    for m in r1.matches:
        one.confirm(m)
    # a match without the book's records (as a peer's copy would be) is looked up by hash
    first, *rest_ = r2.matches
    bare = Match(first.resting, first.incoming, first.amounts, first.incoming_side)
    many.confirm_all((bare, *rest_))
    assert one.book.snapshot() == many.book.snapshot()
    assert [state(many, a) for a in asks] == [None, None, (3, 0, 1)]  # filled, filled, 3 of 4


def test_uncross_after_funds_arrive() -> None:
    eng = engine()
    eng.book.set_funds(A, BASE, 0)
    unfunded = ask(A, 5, 50)
    rest(eng, unfunded)
    b = bid(B, 5, 60)
    r = eng.submit(b, now=NOW)
    assert not r.matches and r.outcome is Outcome.RESTED
    eng.book.set_funds(A, BASE, 3)
    (res,) = eng.uncross(now=NOW)
    # b is the newer order: it is the incoming side, at the ask's price
    assert res.order == b and res.matches[0].resting == unfunded
    assert res.matches[0].amounts.left_filled == 3 and res.matches[0].price == 10
    assert eng.uncross(now=NOW) == []


def test_rematch_may_match_and_older_only() -> None:
    eng = engine()
    eng.book.set_funds(B, QUOTE, 0)
    b = bid(B, 5, 50)
    rest(eng, b)
    a = ask(A, 5, 50)
    rest(eng, a)  # b is unfunded: no match
    eng.book.set_funds(B, QUOTE, 100)
    # b is older: against older orders only there is nothing
    assert not eng.rematch(b.hash, now=NOW).matches
    refused: list[tuple[bytes, bytes]] = []

    def never(resting: Entry, incoming: Entry) -> bool:
        refused.append((resting.hash, incoming.hash))
        return False

    assert not eng.rematch(b.hash, now=NOW, may_match=never, older_only=False).matches
    assert refused == [(a.hash, b.hash)]
    assert eng.uncross(now=NOW, may_match=never) == []
    # allowed: b takes a at a's price, with b as the incoming side
    r = eng.rematch(b.hash, now=NOW, may_match=lambda r, i: True, older_only=False)
    assert [m.resting for m in r.matches] == [a] and r.matches[0].incoming == b


def test_uncross_without_crossing_changes_nothing() -> None:
    eng = engine()
    rest(eng, ask(A, 1, 11), bid(B, 1, 10))
    assert eng.uncross(now=NOW) == []
    assert eng.book.pair(BASE, QUOTE).best_ask() == DepthLevel(Fraction(11), 1, 1)


def test_rematch_of_closed_and_expired_orders() -> None:
    eng = engine()
    a = ask(A, 1, 10, expiry=NOW + 5)
    rest(eng, a)
    r = eng.rematch(a.hash, now=NOW + 5)
    assert r.outcome is Outcome.EXPIRED and r.removed == ((a.hash, RemovalReason.EXPIRED),)
    b = ask(A, 1, 10)
    rest(eng, b)
    eng.book.reserve(b.hash, 1)
    eng.book.remove(b.hash, RemovalReason.CANCELLED)
    assert eng.rematch(b.hash, now=NOW).outcome is Outcome.DROPPED


def test_match_is_a_frozen_value() -> None:
    eng = engine()
    rest(eng, ask(A, 1, 10))
    (m,) = eng.submit(bid(B, 1, 10), now=NOW).matches
    assert isinstance(m, Match)
    with pytest.raises(AttributeError):
        m.amounts = MatchAmounts(0, 0, 0, 0)  # type: ignore[misc]


def test_inline_built_values_equal_the_dataclass_built_ones() -> None:
    eng = engine()
    a1 = ask(A, 7, 70)
    rest(eng, a1)
    incoming = bid(B, 5, 60)
    r = eng.submit(incoming, now=NOW)
    (m,) = r.matches
    built = Match(a1, incoming, match_amounts(7, 70, 0, 0, 60, 5, 0, 0), Side.BID)
    assert m == built and hash(m) == hash(built) and repr(m) == repr(built)
    again = MatchResult(incoming, r.outcome, (built,), r.removed, r.remaining)
    assert r == again and hash(r) == hash(again) and repr(r) == repr(again)


def test_book_with_unreported_makers_does_not_match() -> None:
    eng = MatchingEngine(OrderBook([(BASE, QUOTE)]))  # default_funds=0, as a node runs it
    rest(eng, ask(A, 1, 10))
    r = eng.submit(bid(B, 1, 10), now=NOW)
    assert not r.matches


def test_uncross_looks_again_at_pairs_a_removal_funded() -> None:
    # C's quote funds (10) go to its older bid in BASE2/QUOTE (which expires at NOW + 5); its
    # BASE/QUOTE bid is unfunded and rests against A's crossing ask. When B's BASE2 ask,
    # crossing C's BASE2 bid, gets funds after that expiry, uncross removes the expired bid:
    # its funds move to the BASE bid, which must then be matched, though the BASE pair was
    # looked at first.
    eng = engine()
    eng.book.set_funds(C, QUOTE, 10)
    eng.book.set_funds(B, BASE2, 0)
    bid_2 = bid(C, 10, 10, pair_base=BASE2, expiry=NOW + 5)
    bid_1 = bid(C, 10, 10)
    ask_a, ask_b = ask(A, 10, 10), ask(B, 10, 10, pair_base=BASE2)
    rest(eng, bid_2, bid_1, ask_a, ask_b)
    assert state(eng, bid_1) == (0, 0, 0)
    eng.book.set_funds(B, BASE2, 10)
    later = NOW + 5
    results = eng.uncross(now=later)
    assert [(h, why) for r in results for h, why in r.removed] == [
        (bid_2.hash, RemovalReason.EXPIRED)
    ]
    (m,) = [m for r in results for m in r.matches]
    assert (m.resting, m.incoming) == (bid_1, ask_a)
    assert eng.uncross(now=later) == []
