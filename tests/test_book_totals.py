"""The levels' running totals (``Level.total``, ``Level.live``) and their log of changes
(``BookSide.changes``) against a full recomputation from the book's orders, after every
operation.

A hypothesis ``RuleBasedStateMachine`` makes one book operation a step: add (rest without
matching), fill (the walk's ``fill`` of a resting order), confirm, release, cancel, the
chain's ``set_filled``, fund changes (which park and unpark orders), expiry. After each it
recomputes every level's sum and count from the book's index of orders (not from the levels'
queues) and compares; three readers of the log of changes (one reading after every step,
two at random times, one of them rarely: its log is trimmed under it) each rebuild the
totals from the levels the log names and must find the same. ``tests/test_book_state.py``
checks the same after each step of the engine-driven machine.
"""

from __future__ import annotations

import random
from fractions import Fraction
from math import gcd

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sdex.book import Entry, OrderBook, RemovalReason, Side
from sdex.book.ladder import level_at
from sdex.book.levels import BookSide, Level
from sdex.book.queue import BLOCK
from sdex.book.total import CHUNK
from sdex.order import ZERO_ADDRESS
from tests.test_book import BASE, BASE2, MAKERS, QUOTE, T0, ask, bid

Key = tuple[int, int]


def _unit_fraction(t: tuple[int, int]) -> Fraction:
    num, den = t
    return Fraction(num % (den + 1), den)


UNIT_FRACTIONS = st.one_of(
    st.sampled_from([Fraction(0), Fraction(1)]),
    st.tuples(st.integers(min_value=0), st.integers(min_value=1)).map(_unit_fraction),
)
"""Any fraction in [0, 1], the ends often: what ``st.fractions(0, 1)`` draws, without its
``flatmap`` (a strategy built for every draw: a third of ``TestTotalsMachine``'s time)."""
PAIRS = [(BASE, QUOTE), (BASE2, QUOTE)]
TRADERS = MAKERS[:3]


def sides(book: OrderBook, private: bool = True) -> list[BookSide]:
    """The pairs' sides, and (``private``) their ladders of orders restricted to one taker
    (book49: ``BookSide.private``)."""
    public = [p.side(s) for p in book.pairs for s in Side]
    if not private:
        return public
    return public + [ladder for side in public for ladder in (side.private or {}).values()]


def ladder(e: Entry) -> BookSide:
    """Where ``e`` must rest: its side, or its taker's private ladder of it."""
    side = e.book_side
    if e.taker == ZERO_ADDRESS or side.private is None:
        return side
    return side.private[e.taker]  # (a KeyError: a restricted order without its ladder)


def recomputed(book: OrderBook) -> dict[int, dict[Key, tuple[int, int]]]:
    """``id(side)`` -> price -> (sum of fillable, count) of the orders in their levels'
    queues, from the book's index (every order it knows), not from the levels."""
    out: dict[int, dict[Key, tuple[int, int]]] = {id(s): {} for s in sides(book)}
    for e in book._index.values():
        if e.level is None or e.parked or e.closed is not None:
            continue
        side = ladder(e)
        assert e.level.side is side
        g = gcd(e.unit, e.tunit)  # (an all-or-nothing rest's are not reduced: dust38)
        key = (e.tunit // g, e.unit // g) if side.is_ask else (e.unit // g, e.tunit // g)
        total, count = out[id(side)].get(key, (0, 0))
        out[id(side)][key] = (total + e.fillable, count + 1)
    return out


def check_levels(book: OrderBook) -> None:
    """Each level's ``total`` and ``live`` are the sums of the orders in its queue; every
    order there offers at least a unit (so ``/v1/orderbook`` lists exactly ``live`` of them);
    ``PairBook.totals`` lists the levels that offer something, best first."""
    want = recomputed(book)
    for side in sides(book):
        mine = want[id(side)]
        got = {k: (lv.total, lv.live) for k, lv in side.levels.items() if lv.live or lv.total}
        assert got == mine
        for level in side.levels.values():
            assert level.listed or (level.total == 0 and level.live == 0)
            for e in level.active():
                assert e.level is level and not e.parked and e.closed is None
                assert e.fillable >= e.unit > 0
            check_slots(level)
            check_aons(level)
        if side.taker:  # (a private ladder: not in the pair's public totals)
            assert side.ranked, "an emptied private ladder is let go"
            continue
        pair = side.owner.pair(*_pair_of(side))  # type: ignore[attr-defined]
        listed = [((n, d), a) for n, d, a in pair.totals(side.side)]
        assert dict(listed) == {k: t for k, (t, _) in mine.items()}
        assert [k for k, _ in listed] == [
            (lv.num, lv.den) for lv in side if (lv.num, lv.den) in mine
        ]


def check_aons(level: Level) -> None:
    """The level counts its all-or-nothing entries, and ``aon_least`` is at most the least of
    their costs (what a walk passes a level of nothing else by, book44)."""
    costs = [e.tunit for e in level.active() if e.aon]
    assert level.aons == len(costs)
    assert not costs or level.aon_least <= min(costs)


def check_slots(level: Level) -> None:
    """The level's slots are numbered and its blocks' dead slots counted right (slots before
    the head count as dead), so that ``Level.find`` gives each live entry's slot."""
    queue = level.queue
    counts = [0] * -(-len(queue) // BLOCK)
    for i, e in enumerate(queue):
        if i < level.head or e.dead:
            counts[i // BLOCK] += 1
        else:
            assert e.slot == i
    assert level.dead_in == counts
    slots = [i for i in range(level.head, len(queue)) if not queue[i].dead]
    assert [level.find(k) for k in range(level.live)] == slots


def _pair_of(side: BookSide) -> tuple[str, str]:
    for p in side.owner.pairs:  # type: ignore[attr-defined]
        if side is p.bids or side is p.asks:
            return p.base, p.quote
    raise AssertionError("a side of no pair")


class Reader:
    """Follows one side's totals as the node's book events do: the levels the log names
    since its last read, or every level when the log no longer reaches back."""

    def __init__(self, side: BookSide) -> None:
        self.side = side
        self.cursor = -1
        self.totals: dict[Key, int] = {}
        self.full = 0  # reads that compared every level

    def read(self) -> dict[Key, int]:
        levels, self.cursor = self.side.changes(self.cursor)
        if levels is None:
            self.full += 1
            self.totals = {(lv.num, lv.den): lv.total for lv in self.side.ranked if lv.total}
            return self.totals
        for lv in levels:
            key = (lv.num, lv.den)
            now = self.side.levels.get(key)  # (``lv`` may be a level forgotten since)
            amount = now.total if now is not None and now.listed else 0
            if amount:
                self.totals[key] = amount
            else:
                self.totals.pop(key, None)
        return self.totals


def check_readers(book: OrderBook, readers: list[Reader]) -> None:
    want = recomputed(book)
    for r in readers:
        assert r.read() == {k: t for k, (t, _) in want[id(r.side)].items()}


class TotalsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook(PAIRS, default_funds=None)
        self.now = T0
        self.readers = [[Reader(s) for s in sides(self.book, False)] for _ in range(3)]

    def entries(self) -> list[Entry]:
        return sorted(self.book._index.values(), key=lambda e: e.seq)

    def pick(self, i: int, which: str) -> Entry | None:
        es = self.entries()
        if which == "open":
            es = [e for e in es if e.closed is None]
        elif which == "queued":
            es = [e for e in es if e.level is not None and not e.parked and e.closed is None]
        elif which == "pending":
            es = [e for e in es if e.pending]
        return es[i % len(es)] if es else None

    @rule(
        maker=st.sampled_from(TRADERS),
        is_ask=st.booleans(),
        pair_base=st.sampled_from([BASE, BASE2]),
        lots=st.integers(1, 9),
        tick=st.one_of(st.integers(90, 110), st.integers(1, 400)),  # (many levels: spares)
        scale=st.sampled_from([1, 3, 10**18]),
        filled=st.sampled_from([0, 0, 1]),
        expiry=st.integers(1, 200),
    )
    def add(
        self,
        maker: str,
        is_ask: bool,
        pair_base: str,
        lots: int,
        tick: int,
        scale: int,
        filled: int,
        expiry: int,
    ) -> None:
        base, quote = lots * 10 * scale, lots * tick * scale
        make = ask if is_ask else bid
        o = make(maker, base, quote, pair_base=pair_base, expiry=self.now + expiry)
        # (a bid of 1 lot at tick 1, scale 1 has makerAmount 1: filled 1 leaves nothing, which
        # the book rightly refuses; user29's run found it)
        self.book.add(o, filled=min(filled, o.order.maker_amount - 1))

    @rule(i=st.integers(0, 10**6), frac=UNIT_FRACTIONS)
    def fill(self, i: int, frac: Fraction) -> None:
        """The walk's fill of a resting order (then, as the walk does, an emptied level goes)."""
        e = self.pick(i, "queued")
        if e is None:
            return
        level = e.level
        assert level is not None
        self.book.fill(e, max(1, int(e.fillable * frac)))
        if not level.live:
            self.book.tidy(e.book_side, level)

    @precondition(lambda self: any(e.pending for e in self.book._index.values()))
    @rule(i=st.integers(0, 10**6), frac=UNIT_FRACTIONS, ok=st.booleans())
    def settle(self, i: int, frac: Fraction, ok: bool) -> None:
        e = self.pick(i, "pending")
        assert e is not None
        amount = max(1, int(e.pending * frac))
        if ok:
            self.book.confirm(e.hash, amount)
        else:
            self.book.release(e.hash, amount)

    @rule(i=st.integers(0, 10**6))
    def cancel(self, i: int) -> None:
        e = self.pick(i, "open")
        if e is not None:
            self.book.remove(e.hash, RemovalReason.CANCELLED)

    @rule(i=st.integers(0, 10**6), frac=UNIT_FRACTIONS)
    def shrink(self, i: int, frac: Fraction) -> None:
        e = self.pick(i, "open")
        if e is not None and not e.pending:
            self.book.set_filled(e.hash, e.filled + int((e.maker_amount - e.filled) * frac))

    @rule(
        maker=st.sampled_from(TRADERS),
        token=st.sampled_from([BASE, BASE2, QUOTE]),
        amount=st.one_of(st.none(), st.integers(0, 100), st.integers(0, 10**20)),
    )
    def funds(self, maker: str, token: str, amount: int | None) -> None:
        self.book.set_funds(maker, token, amount)

    @rule(dt=st.integers(0, 80))
    def advance(self, dt: int) -> None:
        self.now += dt
        self.book.expire(self.now)

    @rule(which=st.sampled_from([1, 1, 1, 2]))
    def read(self, which: int) -> None:
        check_readers(self.book, self.readers[which])

    @invariant()
    def totals_are_the_orders_sums(self) -> None:
        check_levels(self.book)
        check_readers(self.book, self.readers[0])


TestTotalsMachine = TotalsMachine.TestCase
TestTotalsMachine.settings = settings(
    max_examples=200,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_a_log_no_reader_follows_stays_bounded() -> None:
    """Levels made and emptied by the thousand with no reader: the log is trimmed to the
    order of the levels kept; a reader that comes late compares every level once, then
    reads only what moves."""
    book = OrderBook(PAIRS, default_funds=None)
    side = book.pair(BASE, QUOTE).asks
    for tick in range(1, 5001):
        o = ask(MAKERS[0], 10, tick)
        book.add(o)
        book.remove(o.hash, RemovalReason.CANCELLED)
        assert len(side.log) <= 2 * 65 + 64  # (at most 65 levels kept: one and its spares)
    book.add(ask(MAKERS[1], 10, 7))
    reader = Reader(side)
    assert reader.read() == {(7, 10): 10} and reader.full == 1
    kept = ask(MAKERS[1], 20, 22)
    book.add(kept)
    levels, _ = side.changes(reader.cursor)
    assert levels is not None and [(lv.num, lv.den) for lv in levels] == [(11, 10)]
    assert reader.read() == {(7, 10): 10, (11, 10): 20} and reader.full == 1


def test_many_changes_at_one_level_are_logged_once_per_read() -> None:
    book = OrderBook(PAIRS, default_funds=None)
    side = book.pair(BASE, QUOTE).bids
    reader = Reader(side)
    reader.read()
    orders = [bid(MAKERS[i % 3], 10, 20) for i in range(500)]
    for o in orders:
        book.add(o)
    for o in orders[::2]:
        book.remove(o.hash, RemovalReason.CANCELLED)
    assert len(side.log) - (reader.cursor - side.base) == 1
    assert reader.read() == {(2, 1): 5000}  # (a bid offers quote: 250 orders of 20)


def test_offered_pages_match_the_walk_of_every_order() -> None:
    """``PairBook.offered`` (``GET /v1/orderbook``'s pages from the levels' counts) lists
    what a walk of every resting order lists, unfunded and parked ones left out."""
    book = OrderBook(PAIRS, default_funds=None)
    for i in range(60):
        book.add(ask(MAKERS[i % 4], 10 * (1 + i % 3), 10 * (100 + i % 7)))
    book.set_funds(MAKERS[1], BASE, 0)  # parks MAKERS[1]'s asks
    pair = book.pair(BASE, QUOTE)
    walk = [
        e for e in pair.entries(Side.ASK) if not e.parked and e.closed is None and e.fillable > 0
    ]
    assert 0 < len(walk) < 60
    for first, end in [(0, 10), (5, 17), (40, 100), (0, 1000), (len(walk), len(walk) + 5)]:
        total, page, read = pair.offered(Side.ASK, first, end)
        assert total == len(walk) and page == walk[first:end]
        assert read == len(pair.asks)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pages_deep_in_one_level_with_dead_slots_match_the_walk(seed: int) -> None:
    """One level of 1,500 orders (a dozen blocks of slots), changed by cancels (dead slots
    anywhere), a maker's funds taken and given back (its orders parked, then back in the
    queue out of the tail's order: the slots renumbered) and new orders: every page, from
    the levels' counts and the blocks' counts of dead slots (``Level.find``), lists what
    a walk of every resting order lists, and the slots stay numbered and counted."""
    rng = random.Random(seed)
    book = OrderBook(PAIRS, default_funds=None)
    pair = book.pair(BASE, QUOTE)
    live = [ask(MAKERS[i % 6], 10, 20) for i in range(1500)]
    for o in live:
        book.add(o)
    (level,) = pair.asks
    dead = 0  # steps whose pages read past dead slots
    for step in range(40):
        maker = MAKERS[rng.randrange(6)]
        book.set_funds(maker, BASE, 0 if step % 2 == 0 else None)
        for _ in range(rng.randrange(0, 40)):
            o = ask(MAKERS[rng.randrange(6)], 10, 20)
            book.add(o)
            live.append(o)
        for _ in range(rng.randrange(5, 60)):
            o = live.pop(rng.randrange(len(live)))
            book.remove(o.hash, RemovalReason.CANCELLED)
        check_levels(book)
        walk = [
            e
            for e in pair.entries(Side.ASK)
            if not e.parked and e.closed is None and e.fillable > 0
        ]
        assert len(walk) == level.live
        dead += len(level.queue) - level.head > level.live  # dead slots past the head
        for first in [0, 1, rng.randrange(len(walk)), len(walk) // 2, len(walk) - 3]:
            total, page, _ = pair.offered(Side.ASK, first, first + 100)
            assert total == len(walk) and page == walk[first : first + 100]
    assert dead >= 20


def test_a_total_past_the_chunk_carries_both_ways() -> None:
    """A level's ``total`` is kept as ``high * CHUNK + low`` (``low`` a machine int in the
    compiled book): sums that cross ``CHUNK`` up (orders resting) and down (fills, parks,
    cancels, fills past 62 bits) stay the exact sums of the orders' fillable."""
    book = OrderBook(PAIRS, default_funds=None)
    pair = book.pair(BASE, QUOTE)
    amounts = [CHUNK - 1, 3, CHUNK // 2, CHUNK + 5, 2**200, 1, 7 * CHUNK]
    orders = [ask(MAKERS[i % 3], a, a) for i, a in enumerate(amounts)]  # all at price 1
    for o in orders:
        book.add(o)
    level = level_at(pair.asks, 1, 1)
    assert level.total == sum(amounts) and 0 <= level.low < CHUNK
    resting = [book.entry(o.hash) for o in orders]
    for e, x in [(resting[0], 1), (resting[1], 3), (resting[4], 2**199), (resting[6], CHUNK)]:
        book.fill(e, x)  # (resting[1] leaves: it had 3)
        assert level.total == sum(r.offered for r in resting) and 0 <= level.low < CHUNK
    book.remove(orders[5].hash, RemovalReason.CANCELLED)
    book.set_funds(MAKERS[0], BASE, 0)  # parks MAKERS[0]'s orders: 0, 3, 6
    assert level.total == sum(r.offered for r in resting) == resting[2].offered + resting[4].offered
    assert 0 <= level.low < CHUNK
    assert pair.totals(Side.ASK) == [(1, 1, level.total)]


def test_deep_pages_of_one_deep_level_with_gaps() -> None:
    """Pages deep inside one level of many orders, some of them cancelled or parked (dead
    slots in its queue, before and inside the page), are the walk's, as the level keeps
    changing between reads (cancels behind the head, orders resting at the tail)."""
    book = OrderBook(PAIRS, default_funds=None)
    pair = book.pair(BASE, QUOTE)
    orders = [ask(MAKERS[i % 5], 10, 20) for i in range(3000)]
    for o in orders:
        book.add(o)
    book.set_funds(MAKERS[4], BASE, 0)  # parks every fifth
    for o in orders[7:2500:3]:
        book.remove(o.hash, RemovalReason.CANCELLED)
    more = iter([ask(MAKERS[i % 4], 10, 20) for i in range(100)])
    gone = iter(orders[2501:2900:2])

    def walk() -> list[Entry]:
        return [e for e in pair.entries(Side.ASK) if not e.parked and e.closed is None]

    for first in [0, 1, 63, 64, 100, 777, 1200, 1500, 1530, 1599, 5000]:
        want = walk()
        for size in (1, 50, 100):
            total, page, _ = pair.offered(Side.ASK, first, first + size)
            assert total == len(want) and page == want[first : first + size]
        book.remove(next(gone).hash, RemovalReason.CANCELLED)  # a gap again
        book.add(next(more))
