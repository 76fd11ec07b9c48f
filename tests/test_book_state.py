"""The book and engine under random adds, cancels, shrinks, fund changes, matches, settlements.

A hypothesis ``RuleBasedStateMachine`` drives a node-like sequence: every order goes through
``MatchingEngine.submit``; cancels, shrinks (the chain's ``set_filled``), fund changes,
settlements (``confirm``) and failed settlements (``release``) are followed by ``uncross``, as
the node does. After every step it checks:

- no crossing pair is left, as ``sdex.matching.walk`` defines it;
- ``filled + pending + remaining == makerAmount`` for every order, pending and filled equal to
  a model built from the matches and settlements;
- each maker's funds are allocated exactly as the book promises: greedily in time priority,
  passing over an order whose share is below its lot (while no fill of it is in flight), so
  the fillable amounts of a maker's orders never sum beyond what the maker can pay;
- the levels list every resting order once, in price-time priority, and depth agrees;
- each level's running total and count are its orders' sums, and a reader of the levels'
  log of changes (the node's book events) rebuilds the same totals;
and for every match: amounts recomputed by ``fillmath.match_amounts`` (the contract's
formula) from the book's state before it, both limit prices, the contract's result with
``maxLeftFill`` from the confirmed fills only, price-time priority (no better or older order
that could trade was skipped), no expired order, no self-trade (and no removal for one: a
maker's crossing orders both stay), taker restrictions.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections import defaultdict
from fractions import Fraction
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sdex.book import BookOrderState, Entry, OrderBook, RemovalReason, Side
from sdex.book.types import unit_of
from sdex.fillmath import FillMathError, MatchAmounts, PricesDoNotCross, match_amounts
from sdex.matching import Match, MatchingEngine, MatchResult, Outcome, TimeInForce
from sdex.order import ZERO_ADDRESS, Order, SignedOrder
from tests.deep import examples
from tests.test_book import BASE, BASE2, MAKERS, QUOTE, T0, ask, bid
from tests.test_book_totals import UNIT_FRACTIONS, Reader, check_levels, check_readers, sides

PAIRS = [(BASE, QUOTE), (BASE2, QUOTE)]
TRADERS = MAKERS[:4]
PRICES = [Fraction(2, 3), Fraction(1), Fraction(7, 5), Fraction(3, 2)]
SCALES = [1, 1, 1, 10**18, 3**40]
T = TypeVar("T")
HUGE = 2**255 - 1  # with HUGE - 1: coprime, its one lot is all of it (attack29)
pytestmark = pytest.mark.cpu_bound(240)
"""~15 s of CPU here (both tests); a machine at load 20-35 takes 20-30 times as long on the
wall clock, past pytest-timeout's 300 s (``tests.conftest.pytest_runtest_call``)."""


# new_orders picks from these lists by index (an integer strategy built once: a
# ``sampled_from`` drawn per order cost more than the book's work on the order; the choices,
# their odds and how they shrink are the same)
_BASE_TOKENS = [BASE, BASE, BASE, BASE2]
_JITTER = [0, 0, 0, 0, -1, 1, 2]  # and some awkward ratios
_TAKERS = [ZERO_ADDRESS] * 10 + TRADERS[:2]
_TIFS = [TimeInForce.GTC] * 3 + [TimeInForce.IOC, TimeInForce.FOK]
_INDEX = {n: st.integers(0, n - 1) for n in (2, 4, 5, 6, 7, 12)}


@st.composite
def new_orders(draw: st.DrawFn, now: int) -> tuple[SignedOrder, int, TimeInForce]:
    def pick(xs: list[T]) -> T:
        return xs[draw(_INDEX[len(xs)])]

    maker = pick(TRADERS)
    base_token = pick(_BASE_TOKENS)
    scale = pick(SCALES)
    price = pick(PRICES)
    lots = draw(_LOTS)  # whole lots: orders share exact price levels
    base = lots * price.denominator * scale
    quote = max(1, lots * price.numerator * scale + pick(_JITTER))
    taker = pick(_TAKERS)
    expiry = now + draw(_EXPIRY)
    make = ask if draw(st.booleans()) else bid
    taker_amount = quote if make is ask else base
    fee = pick([0, 0, 1, taker_amount // 3, taker_amount])
    signed = make(maker, base, quote, pair_base=base_token, taker=taker, expiry=expiry, fee=fee)
    m = signed.order.maker_amount
    filled = pick([0, 0, 0, 1, m // 2, m - 1])
    tif = pick(_TIFS)
    return signed, min(filled, m - 1), tif


_LOTS = st.integers(1, 12)
_EXPIRY = st.integers(1, 300)


def amounts_for(left: Order, left_avail: int, right: Order, right_avail: int) -> MatchAmounts:
    """The contract's amounts for left/right entering with these available amounts."""
    return match_amounts(
        left.maker_amount, left.taker_amount, left.fee_amount, left.maker_amount - left_avail,
        right.maker_amount, right.taker_amount, right.fee_amount, right.maker_amount - right_avail,
    )  # fmt: skip


def engine_amounts(left: Order, left_avail: int, right: Order, right_avail: int) -> MatchAmounts:
    """What the engine proposes: the contract's maximal fill, or when its rounding breaks
    the incoming limit, the whole units of ``left`` (``maxLeftFill``) that trade at its price."""
    try:
        return amounts_for(left, left_avail, right, right_avail)
    except PricesDoNotCross:
        lm, lt = left.maker_amount, left.taker_amount
        x = min(left_avail, right_avail * lm // lt)
        x -= x % unit_of(lm, lt)
        if x == 0:
            raise
        return match_amounts(
            lm, lt, left.fee_amount, lm - left_avail,
            right.maker_amount, right.taker_amount, right.fee_amount,
            right.maker_amount - right_avail, x,
        )  # fmt: skip


def aon_cost(o: Order, filled: int) -> int | None:
    """What the contract asks for all of an order's rest when that is less than its unit
    (this book has no minimums): the rest is then all or nothing at that cost (dust38)."""
    f = o.maker_amount - filled
    if 0 < f < unit_of(o.maker_amount, o.taker_amount):
        return -(-(f * o.taker_amount) // o.maker_amount)
    return None


def resting_amounts(
    left: Order, left_filled: int, left_avail: int, right: Order, right_avail: int
) -> MatchAmounts:
    """``engine_amounts`` for a resting order with ``left_filled`` confirmed: all of an
    all-or-nothing rest (``maxLeftFill``: the rest) or nothing."""
    if aon_cost(left, left_filled) is None:
        return engine_amounts(left, left_avail, right, right_avail)
    lm = left.maker_amount
    a = match_amounts(
        lm, left.taker_amount, left.fee_amount, lm - left_avail,
        right.maker_amount, right.taker_amount, right.fee_amount,
        right.maker_amount - right_avail, left_avail,
    )  # fmt: skip
    if a.left_filled < lm - left_filled:
        raise PricesDoNotCross("all or nothing: the incoming order cannot pay all of it")
    return a


def can_trade(left: BookOrderState, left_avail: int, right: Order, right_avail: int) -> bool:
    try:
        resting_amounts(left.order.order, left.filled, left_avail, right, right_avail)
    except FillMathError:
        return False
    return True


def unit(s: BookOrderState) -> int:
    """The least it trades (its lot, this book having no minimums): a unit at its price, or
    all of an all-or-nothing rest."""
    o = s.order.order
    if aon_cost(o, s.filled) is not None:
        return o.maker_amount - s.filled
    return unit_of(o.maker_amount, o.taker_amount)


def takers_allow(a: Order, b: Order) -> bool:
    return a.taker in (ZERO_ADDRESS, b.maker) and b.taker in (ZERO_ADDRESS, a.maker)


def price(st_: BookOrderState) -> Fraction:
    """Quote per base (an all-or-nothing rest's: of the rest and its cost)."""
    o = st_.order.order
    cost = aon_cost(o, st_.filled)
    if cost is not None:
        f = o.maker_amount - st_.filled
        return Fraction(cost, f) if st_.side is Side.ASK else Fraction(f, cost)
    if st_.side is Side.ASK:
        return Fraction(o.taker_amount, o.maker_amount)
    return Fraction(o.maker_amount, o.taker_amount)


def pair_of(o: Order) -> tuple[str, str]:
    return (o.maker_token, o.taker_token) if o.maker_token != QUOTE else (o.taker_token, QUOTE)


def better(a: BookOrderState, b: BookOrderState) -> bool:
    """Does ``a`` come before ``b`` in price-time priority (same side)?"""
    pa, pb = price(a), price(b)
    if pa != pb:
        return pa < pb if a.side is Side.ASK else pa > pb
    return a.seq < b.seq


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook(PAIRS, default_funds=None)
        self.engine = MatchingEngine(self.book)
        self.now = T0
        self.pending: list[Match] = []
        self.filled: dict[bytes, int] = {}  # confirmed fills, as the chain would have them
        self.spendable: dict[tuple[str, str], int | None] = {}
        self.readers: list[Reader] | None = None

    @initialize(
        funds=st.lists(
            st.sampled_from([None, None, 0, 5, 30, 10**19, 10**41]), min_size=8, max_size=8
        ),
        n=st.integers(0, 25),
        data=st.data(),
    )
    def seed(self, funds: list[int | None], n: int, data: st.DataObject) -> None:
        accounts = [(m, t) for m in TRADERS for t in (BASE, QUOTE)]  # BASE2: no cap
        for (maker, token), amount in zip(accounts, funds, strict=True):
            self.set_funds(maker, token, amount)
        for _ in range(n):
            self.submit_one(*data.draw(new_orders(self.now)))

    # ---- helpers --------------------------------------------------------------------------------

    def set_funds(self, maker: str, token: str, amount: int | None) -> None:
        self.book.set_funds(maker, token, amount)
        self.spendable[(maker, token)] = amount

    def states(self) -> dict[bytes, BookOrderState]:
        return {s.hash: s for s in self.book}

    def open_states(self) -> list[BookOrderState]:
        return [s for s in self.book if s.closed is None]

    def allocation(self, orders: list[BookOrderState], left: int) -> dict[bytes, int]:
        """The canonical allocation of what a maker has ``left`` (spendable less every fill in
        flight) to its open ``orders`` (oldest first), computed from scratch: ``remaining``
        each while it lasts; an order it cannot cover takes what is left if that is at least
        its lot, else 0 (it cannot trade with it: the funds go on to the next orders,
        attack29); what none could use goes to the oldest passed over. A pure function of the
        orders, their fill state and the funds: whatever path led here, the book must hold
        exactly this."""
        out: dict[bytes, int] = {}
        skipped: list[bytes] = []
        for s in orders:
            rem = s.remaining
            if rem <= left:
                take = rem
            elif left >= s.lot:
                take = left
            else:
                take = 0
                skipped.append(s.hash)
            out[s.hash] = take
            left -= take
        if left > 0 and skipped:
            out[skipped[0]] = left
        return out

    def passed_on(
        self, before: dict[bytes, BookOrderState], used: dict[bytes, int], r: BookOrderState
    ) -> int:
        """What ``r`` offers once its maker's funds are shared again after the walk's fills
        so far (``used``): a fill that left a partial share below its lot passes it on to the
        maker's later orders, and the walk goes again (walk40)."""
        o = r.order.order
        spend = self.spendable.get((o.maker, o.maker_token))
        assert spend is not None  # an uncapped maker's fillable is its remaining: never grows
        same = [
            s
            for s in before.values()
            if (s.order.order.maker, s.order.order.maker_token) == (o.maker, o.maker_token)
        ]
        left = spend - sum(s.pending + used[s.hash] for s in same)
        now = [
            dataclasses.replace(
                s, pending=s.pending + used[s.hash], remaining=s.remaining - used[s.hash]
            )
            for s in same
            if s.closed is None
        ]
        return self.allocation(now, left)[r.hash]

    def record(self, results: list[MatchResult]) -> None:
        for r in results:
            for m in r.matches:
                self.check_match_basics(m)
            self.check_removed(r)
            self.pending.extend(r.matches)

    def uncross(self) -> None:
        results = self.engine.uncross(now=self.now)
        if any(r.matches for r in results):
            event("uncross matched")
        self.record(results)

    def check_match_basics(self, m: Match) -> None:
        left, right = m.resting.order, m.incoming.order
        a = m.amounts
        x, y = a.left_filled, a.right_filled
        assert x > 0 and y > 0
        assert left.maker != right.maker  # self-trade never settles
        assert left.expiry > self.now and right.expiry > self.now
        assert takers_allow(left, right)
        assert left.maker_token == right.taker_token and left.taker_token == right.maker_token
        # both limit prices, exactly: left gets at least its price, right pays at most its own
        assert y * left.maker_amount >= x * left.taker_amount
        assert y * right.taker_amount <= x * right.maker_amount
        # the contract, knowing only confirmed fills, computes exactly these amounts when the
        # node caps the resting side at x (maxLeftFill)
        lf, rf = self.filled.get(m.resting.hash, 0), self.filled.get(m.incoming.hash, 0)
        chain = match_amounts(
            left.maker_amount, left.taker_amount, left.fee_amount, lf,
            right.maker_amount, right.taker_amount, right.fee_amount, rf, x,
        )  # fmt: skip
        assert chain == a

    def check_removed(self, r: MatchResult) -> None:
        for h, reason in r.removed:
            assert reason in (RemovalReason.EXPIRED, RemovalReason.DUST)
            if reason is RemovalReason.DUST:
                assert h == r.order.hash  # only the incoming (or re-matched) order itself
            st_ = self.book.get(h)
            assert st_ is None or st_.closed is reason

    # ---- rules ----------------------------------------------------------------------------------

    @rule(n=st.integers(1, 4), data=st.data())
    def submit(self, n: int, data: st.DataObject) -> None:
        for _ in range(n):
            self.submit_one(*data.draw(new_orders(self.now)))

    def submit_one(self, signed: SignedOrder, filled: int, tif: TimeInForce) -> None:
        self.book.expire(self.now)  # the engine sweeps too; done here so `before` is exact
        before = self.states()
        ioc = None
        if tif is TimeInForce.FOK:  # what IOC would do on the same book
            copy = MatchingEngine(OrderBook.restore(self.book.snapshot()))
            ioc = copy.submit(signed, now=self.now, tif=TimeInForce.IOC, filled=filled)
        result = self.engine.submit(signed, now=self.now, tif=tif, filled=filled)
        self.filled[signed.hash] = filled
        inc = signed.order
        m_inc = inc.maker_amount
        after = self.states()
        # what the incoming order had to offer: the maker's funds left after its older orders
        rem = m_inc - filled
        spend = self.spendable.get((inc.maker, inc.maker_token))
        if spend is None:
            avail0 = rem
        else:
            same = [
                s
                for s in before.values()
                if (s.order.order.maker, s.order.order.maker_token) == (inc.maker, inc.maker_token)
            ]
            left = spend - sum(s.pending for s in same)
            older = [s for s in same if s.closed is None]
            lot = unit_of(m_inc, inc.taker_amount)
            if aon_cost(inc, filled) is not None:
                lot = m_inc - filled
            me = BookOrderState(signed, _side(inc), 1 << 62, filled, 0, rem, 0, True, None, lot)
            avail0 = self.allocation([*older, me], left)[signed.hash]
        # every match: the contract's amounts from the state before it, in priority order
        avail = avail0
        used: dict[bytes, int] = defaultdict(int)
        given = received = 0
        for m in result.matches:
            assert m.incoming == signed
            r_before = before[m.resting.hash]  # an older order: it was in the book before
            r_avail = r_before.fillable - used[m.resting.hash]
            ro_, rf_ = r_before.order.order, r_before.filled
            if m.amounts.left_filled > r_avail:  # a share passed on by the walk's earlier fills
                r_avail = self.passed_on(before, used, r_before)
                event("submit: a share passed on, walked again (walk40)")
            assert m.amounts == resting_amounts(ro_, rf_, r_avail, inc, avail)
            for o in before.values():  # nothing better that could trade was passed over
                if (
                    o.closed is None
                    and o.resting
                    and o.side is r_before.side
                    and pair_of(o.order.order) == pair_of(inc)
                    and better(o, r_before)
                    and o.hash not in used
                    and o.fillable
                    and o.order.order.expiry > self.now
                    and o.order.order.maker != inc.maker
                    and takers_allow(o.order.order, inc)
                ):
                    assert not can_trade(o, o.fillable, inc, avail), (o, m)
            used[m.resting.hash] += m.amounts.left_filled
            avail -= m.amounts.right_filled
            given += m.amounts.right_filled
            received += m.amounts.left_filled
            self.check_match_basics(m)
        self.check_removed(result)
        dust = (signed.hash, RemovalReason.DUST) in result.removed
        # a self-cross removes nothing: both orders stay, whatever their arrival order
        assert all(reason is not RemovalReason.SELF_TRADE for _, reason in result.removed)
        # the walk stopped only when nothing left could trade with the incoming order
        if result.outcome not in (Outcome.KILLED, Outcome.EXPIRED):
            for o in before.values():
                now_o = after.get(o.hash)
                if (
                    now_o is None
                    or now_o.closed is not None
                    or not now_o.fillable
                    or o.side.opposite is not _side(inc)
                    or pair_of(o.order.order) != pair_of(inc)
                    or o.order.order.maker == inc.maker
                    or not takers_allow(o.order.order, inc)
                ):
                    continue
                if not dust:
                    assert not can_trade(now_o, now_o.fillable, inc, avail), o
        # time in force
        remaining = m_inc - filled - sum(m.amounts.right_filled for m in result.matches)
        if result.outcome is Outcome.EXPIRED:
            assert inc.expiry <= self.now and signed.hash not in self.book
        elif result.outcome is Outcome.KILLED:
            assert tif is TimeInForce.FOK and not result.matches
            assert after == before
        else:
            assert result.remaining == remaining
            st_ = after.get(signed.hash)
            if tif is TimeInForce.GTC and dust:  # closed: its remainder could not trade
                assert st_ is None or st_.closed is RemovalReason.DUST
                assert result.outcome is Outcome.FILLED and (st_ is None or st_.pending > 0)
                event("submit gtc: dust")
            elif tif is TimeInForce.GTC:
                assert st_ is not None and st_.resting and st_.closed is None
                assert result.outcome is (Outcome.RESTED if remaining else Outcome.FILLED)
            elif st_ is not None:
                assert st_.closed is RemovalReason.UNMATCHED and st_.fillable == 0
        if ioc is not None:  # FOK: all-or-nothing, the same matches as IOC when it fills
            full = given == rem or received * inc.maker_amount >= rem * inc.taker_amount
            ioc_given = sum(m.amounts.right_filled for m in ioc.matches)
            ioc_received = sum(m.amounts.left_filled for m in ioc.matches)
            ioc_full = ioc_given == rem or ioc_received * inc.maker_amount >= rem * inc.taker_amount
            # FOK walks as IOC, second passes (walk40) included (it failed on those once)
            assert (result.outcome is Outcome.FILLED) is ioc_full
            if ioc_full and any(
                m.amounts.left_filled > before[m.resting.hash].fillable for m in ioc.matches
            ):
                event("submit fok: filled by a share passed on (walk40)")
            if ioc_full:
                assert full and [m.amounts for m in result.matches] == [
                    m.amounts for m in ioc.matches
                ]
        event(f"submit {tif.value}: {result.outcome.value}, {min(len(result.matches), 3)} matches")
        if result.removed:
            event("submit removed " + ",".join(sorted({r.value for _, r in result.removed})))
        self.pending.extend(result.matches)
        self.uncross()  # removals on the way may have funded a maker's orders elsewhere

    @rule(
        maker=st.sampled_from(TRADERS),
        sell_base=st.booleans(),
        tif=st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.FOK]),
        lag=st.integers(1, 300),
    )
    def submit_unfundable(self, maker: str, sell_base: bool, tif: TimeInForce, lag: int) -> None:
        """An order whose one lot is more than any maker here has (huge coprime amounts,
        attack29): it must never hold back its maker's other orders' funds."""
        make = ask if sell_base else bid
        self.submit_one(make(maker, HUGE, HUGE - 1, expiry=self.now + lag), 0, tif)

    @rule(i=st.integers(0, 10**6), lots=st.integers(1, 3), better=st.booleans())
    def self_cross(self, i: int, lots: int, better: bool) -> None:
        """The maker of a resting order sends one that crosses it: nothing is removed, both
        rest (every node holds the same book whatever order they came in: attack29)."""
        resting = [s for s in self.open_states() if s.resting]
        if not resting:
            return
        s = resting[i % len(resting)]
        o = s.order.order
        if s.side is Side.ASK:
            base, quote = o.maker_amount, o.taker_amount
        else:
            base, quote = o.taker_amount, o.maker_amount
        if base * lots >= 2**255 or quote * lots >= 2**255:
            lots = 1  # (the unfundable orders: one is all a uint256 holds)
        base_n, quote_n = base * lots, quote * lots
        if better:  # a price beyond it: the counter order crosses strictly
            if s.side is Side.ASK:
                quote_n += 1
            else:
                quote_n = max(1, quote_n - 1)
        if max(base_n, quote_n) >= 2**255:
            return  # (a counter order to an unfundable one: no uint256 amount is beyond it)
        make = bid if s.side is Side.ASK else ask
        pair_base = o.maker_token if s.side is Side.ASK else o.taker_token
        counter = make(o.maker, base_n, quote_n, pair_base=pair_base, expiry=self.now + 100)
        self.submit_one(counter, 0, TimeInForce.GTC)  # (no SELF_TRADE removal: checked there)
        after = self.book.get(s.hash)
        # it may have left since for its own reasons (the uncross after it: dust), not this one
        assert after is None or after.closed is not RemovalReason.SELF_TRADE

    @rule(i=st.integers(0, 10**6))
    def cancel(self, i: int) -> None:
        open_ = self.open_states()
        if not open_:
            return
        st_ = open_[i % len(open_)]
        self.book.remove(st_.hash, RemovalReason.CANCELLED)
        self.uncross()

    @rule(i=st.integers(0, 10**6), frac=UNIT_FRACTIONS)
    def shrink(self, i: int, frac: Fraction) -> None:
        # the chain reports fills made elsewhere; the node does this only with nothing pending
        cands = [s for s in self.open_states() if s.pending == 0]
        if not cands:
            return
        st_ = cands[i % len(cands)]
        m = st_.order.order.maker_amount
        new = st_.filled + int((m - st_.filled) * frac)
        self.book.set_filled(st_.hash, new)
        self.filled[st_.hash] = new
        self.uncross()

    @rule(
        maker=st.sampled_from(TRADERS),
        token=st.sampled_from([BASE, BASE2, QUOTE]),
        amount=st.one_of(st.none(), st.integers(0, 60), st.integers(0, 50 * 10**18)),
    )
    def funds(self, maker: str, token: str, amount: int | None) -> None:
        self.set_funds(maker, token, amount)
        self.uncross()

    @precondition(lambda self: bool(self.pending))
    @rule(i=st.integers(0, 10**6), ok=st.booleans())
    def settle(self, i: int, ok: bool) -> None:
        m = self.pending.pop(i % len(self.pending))
        if ok:
            self.engine.confirm(m)
            a = m.amounts
            for so, amount in ((m.resting, a.left_filled), (m.incoming, a.right_filled)):
                self.filled[so.hash] = self.filled.get(so.hash, 0) + amount
                key = (so.order.maker, so.order.maker_token)
                s = self.spendable.get(key)
                if s is not None:
                    self.spendable[key] = max(0, s - amount)
        else:
            self.engine.release(m)
        self.uncross()

    @rule(dt=st.integers(0, 120))
    def advance(self, dt: int) -> None:
        self.now += dt
        for _, reason in self.book.expire(self.now):
            assert reason is RemovalReason.EXPIRED
        self.uncross()

    @rule(i=st.integers(0, 10**6))
    def rematch(self, i: int) -> None:
        resting = [s for s in self.open_states() if s.resting]
        if not resting:
            return
        st_ = resting[i % len(resting)]
        visited: list[Entry] = []

        def may_match(r: Entry, inc: Entry) -> bool:  # allows all: only counts the visits
            visited.append(r)
            return True

        result = self.engine.rematch(st_.hash, now=self.now, may_match=may_match)
        self.record([result])
        # every order the walk visited traded, was removed, or is the one order of its level
        # that the re-matched order could not pay a unit of; that one keeps it out of later
        # walks (parked or dust) until its funds or fills change
        touched = {m.resting.hash for m in result.matches} | {h for h, _ in result.removed}
        # (an all-or-nothing rest it cannot pay all of is passed, not blocking: dust38)
        idle = {
            e.hash: Fraction(e.order.taker_amount, e.order.maker_amount)
            for e in visited
            if not e.aon
        }
        idle = {h: p for h, p in idle.items() if h not in touched}
        if idle:
            event("rematch blocked")
            assert len(set(idle.values())) == len(idle), idle  # one visit per level
            after = self.book.get(st_.hash)
            assert after is None or after.closed is not None or after.fillable == 0
        self.uncross()

    @rule()
    def snapshot_restore(self) -> None:
        data = self.book.snapshot()
        restored = OrderBook.restore(data)
        assert restored.snapshot() == data
        assert list(restored) == list(self.book)
        for p, q in zip(self.book.pairs, restored.pairs, strict=True):
            for side in Side:
                assert [s.hash for s in p.orders(side)] == [s.hash for s in q.orders(side)]
        self.book = restored
        self.engine = MatchingEngine(restored)

    def teardown(self) -> None:
        event(f"orders known at the end: {min(len(self.book), 20) // 5 * 5}+")

    # ---- invariants -----------------------------------------------------------------------------

    @invariant()
    def fill_state_adds_up(self) -> None:
        pending: dict[bytes, int] = defaultdict(int)
        for m in self.pending:
            pending[m.resting.hash] += m.amounts.left_filled
            pending[m.incoming.hash] += m.amounts.right_filled
        states = self.states()
        for h, p in pending.items():
            assert h in states and states[h].pending == p
        for s in states.values():
            m = s.order.order.maker_amount
            assert s.filled + s.pending + s.remaining == m
            assert 0 <= s.fillable <= s.remaining and s.pending == pending.get(s.hash, 0)
            assert s.filled == self.filled[s.hash]
            if s.closed is not None:
                assert s.fillable == 0 and s.pending > 0 and not s.resting
            else:
                assert s.filled < m

    @invariant()
    def funds_are_shared_in_time_priority(self) -> None:
        accounts: dict[tuple[str, str], list[BookOrderState]] = defaultdict(list)
        for s in self.book:  # in seq order
            accounts[(s.order.order.maker, s.order.order.maker_token)].append(s)
        for key, orders in accounts.items():
            spend = self.spendable.get(key)
            assert self.book.funds(*key) == spend
            if spend is None:
                for s in orders:
                    if s.closed is None:
                        assert self.book.entry(s.hash).fillable == s.remaining, (key, s)
                        assert s.fillable == (s.remaining if s.remaining >= unit(s) else 0) or (
                            s.fillable == 0 and s.resting
                        ), s
                continue
            left = spend - sum(s.pending for s in orders)
            want = self.allocation([s for s in orders if s.closed is None], left)
            for s in orders:
                if s.closed is not None:
                    continue
                take = want[s.hash]
                assert self.book.entry(s.hash).fillable == take, (key, s)
                # offered: its allocation, unless that is less than one unit at its price
                # (then parked), or it rests parked until fills or funds change
                if take < unit(s):
                    assert s.fillable == 0, (key, s)
                else:
                    assert s.fillable == take or (s.fillable == 0 and s.resting), (key, s)
            offered = sum(s.fillable for s in orders)
            assert offered == 0 or offered + sum(s.pending for s in orders) <= spend

    @invariant()
    def levels_list_resting_orders_in_priority(self) -> None:
        resting = [s for s in self.book if s.closed is None and s.resting]
        states = {s.hash: s for s in resting}
        places: dict[tuple[tuple[str, str], Side], set[bytes]] = defaultdict(set)
        for s in resting:  # (one pass, not one per pair and side)
            places[(pair_of(s.order.order), s.side)].add(s.hash)
        for p in self.book.pairs:
            total = 0
            for side in Side:
                listed = list(p.orders(side))
                total += len(listed)
                mine = places[((p.base, p.quote), side)]
                # all of them, except perhaps those with all they have in flight (deferred)
                listed_hashes = {s.hash for s in listed}
                assert listed_hashes <= mine and len(listed) == len(listed_hashes)
                assert {h for h in mine if states[h].remaining} <= listed_hashes
                prices = [price(s) for s in listed]  # (each once: ``better`` without its work)
                for (a, pa), (b, pb) in itertools.pairwise(zip(listed, prices, strict=True)):
                    assert (pa < pb if side is Side.ASK else pa > pb) or (
                        pa == pb and a.seq < b.seq
                    ), (a, b)  # ``better(a, b)``
                depth: dict[Fraction, int] = defaultdict(int)
                for s, ps in zip(listed, prices, strict=True):
                    # (the depth: public orders; the rest are apart, book49)
                    if s.fillable and s.order.order.taker == ZERO_ADDRESS:
                        depth[ps] += s.fillable
                levels = [(lv.price, lv.fillable) for lv in p.depth(side, levels=10**6)]
                assert dict(levels) == depth
                # the book events' sums (sdex.node.bookfeed): the same levels, best first
                assert [(Fraction(n, d), a) for n, d, a in p.totals(side)] == levels
            assert len(p) == total

    @invariant()
    def level_totals_are_the_orders_sums(self) -> None:
        """The levels' running totals and counts, and a reader of their log of changes (the
        node's book events), against a recomputation from the orders
        (``tests/test_book_totals.py``)."""
        if self.readers is None or self.readers[0].side.owner is not self.book:
            self.readers = [Reader(s) for s in sides(self.book, False)]  # (a new book: restored)
        check_levels(self.book)
        check_readers(self.book, self.readers)

    @invariant()
    def closed_orders_are_let_go(self) -> None:
        """The expiry index holds exactly the open orders at a level (and perhaps deferred
        ones), each at its recorded place; an account with no open order holds no closed
        one: a closed order is kept only while its fills are in flight (by the index)."""
        book = self.book
        indexed: set[bytes] = set()
        assert len(book._expiry_heap) <= 2 * len(book._expiry_at) + 64
        for bucket in book._expiry_at.values():
            assert bucket, "an emptied expiry bucket is let go too"
            for i, e in enumerate(bucket):
                assert e.closed is None and e.xbucket is bucket and e.xpos == i, e
                assert book._index.get(e.hash) is e
                indexed.add(e.hash)
        for e in book._index.values():
            if e.closed is None and e.level is not None:
                assert e.hash in indexed, e
            if e.closed is not None:
                assert e.xbucket is None, e
        for account in book.accounts():
            if not account.live:
                assert account.orders == [], account.maker

    @invariant()
    def never_crossed(self) -> None:
        """No bid and ask on offer cross in price, unless they have one maker (a self-cross:
        both stay), their takers forbid the trade, or one is an all-or-nothing rest that the
        other cannot pay all of (dust38)."""
        offered = [
            s
            for s in self.book
            if s.closed is None and s.fillable and s.order.order.expiry > self.now
        ]
        for b in offered:
            if b.side is not Side.BID:
                continue
            for a in offered:
                if a.side is not Side.ASK or pair_of(a.order.order) != pair_of(b.order.order):
                    continue
                if price(b) >= price(a) and a.order.order.maker != b.order.order.maker:
                    # or one is an all-or-nothing rest the other cannot pay all of (dust38)
                    assert not takers_allow(a.order.order, b.order.order) or any(
                        aon_cost(x.order.order, x.filled) is not None
                        and not can_trade(x, x.fillable, y.order.order, y.fillable)
                        for x, y in ((a, b), (b, a))
                    ), (a, b)

    @invariant()
    def no_dust_offered(self) -> None:
        """Every order on offer can trade a whole unit at its price; dust is never kept."""
        for s in self.book:
            if s.closed is not None:
                continue
            if s.fillable:
                assert s.fillable >= unit(s), s
            if s.pending == 0:
                assert s.remaining >= unit(s), s
            if s.resting:
                assert s.status in ("open", "partially_filled", "unfunded")


@given(
    resting=st.tuples(st.integers(1, 2**255 - 1), st.integers(1, 2**256 - 1)),
    incoming=st.tuples(st.integers(1, 2**255 - 1), st.integers(1, 2**256 - 1)),
    fees=st.tuples(st.integers(0, 2**256 - 1), st.integers(0, 2**256 - 1)),
    filled=st.tuples(st.integers(0, 2**255), st.integers(0, 2**255)),
    small=st.booleans(),
)
@settings(max_examples=1500, deadline=None)
def test_engine_arithmetic_is_the_contracts(
    resting: tuple[int, int],
    incoming: tuple[int, int],
    fees: tuple[int, int],
    filled: tuple[int, int],
    small: bool,
) -> None:
    """The engine's inlined amounts equal ``fillmath.match_amounts`` at any size, and it
    matches exactly when the contract would (one resting order, one incoming order)."""
    if small:  # small amounts: rounding and dust decide
        resting, incoming = (
            (resting[0] % 97 + 1, resting[1] % 89 + 1),
            (
                incoming[0] % 83 + 1,
                incoming[1] % 79 + 1,
            ),
        )
    (rm, rt), (im, it) = resting, incoming
    rf, inf = filled[0] % rm, filled[1] % im
    book = OrderBook(PAIRS, default_funds=None)
    engine = MatchingEngine(book)
    left = ask(TRADERS[0], rm, rt, fee=fees[0] % (rt + 1))
    right = bid(TRADERS[1], it, im, fee=fees[1] % (it + 1))
    engine.submit(left, now=T0, filled=rf)
    result = engine.submit(right, now=T0, tif=TimeInForce.IOC, filled=inf)
    lo, ro = left.order, right.order
    try:
        if rm - rf < unit_of(rm, rt):
            # less than a unit left: all or nothing at its own cost (dust38; it was closed as
            # dust, though the contract fills it): all of it, as maxLeftFill = rm - rf gives
            want = match_amounts(
                rm, rt, lo.fee_amount, rf,
                ro.maker_amount, ro.taker_amount, ro.fee_amount, inf, rm - rf,
            )  # fmt: skip
            if want.left_filled < rm - rf:
                raise PricesDoNotCross("all or nothing: the incoming order cannot pay all")
        else:
            want = engine_amounts(lo, rm - rf, ro, ro.maker_amount - inf)
    except FillMathError:
        assert not result.matches
    else:
        crosses = Fraction(ro.maker_amount, ro.taker_amount) >= Fraction(rt, rm)
        assert crosses and [m.amounts for m in result.matches] == [want]
        a = want  # the contract's own result, with the engine's cap
        assert a == match_amounts(
            rm, rt, lo.fee_amount, rf,
            ro.maker_amount, ro.taker_amount, ro.fee_amount, inf, a.left_filled,
        )  # fmt: skip


def _side(o: Order) -> Side:
    return Side.BID if o.maker_token == QUOTE else Side.ASK


TestBookMachine = BookMachine.TestCase
TestBookMachine.settings = settings(
    # SDEX_BOOK_EXAMPLES: more (a hunt) or fewer (many seeds) than the suite's 300 (times
    # SDEX_DEEP). Not fewer: a planted funds bug (a share of exactly one lot passed over) was
    # found at examples 43, 229 and 249 of three runs (speed60a)
    max_examples=int(os.environ.get("SDEX_BOOK_EXAMPLES", str(examples(300)))),
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
