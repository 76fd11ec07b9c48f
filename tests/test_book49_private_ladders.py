"""Orders restricted to one taker rest apart, in per-taker private ladders (book49,
``BookSide.private``): a public order's walk and ``uncross`` never visit them, and matching
gives exactly the fills of the single ladder they shared before (walk46's DoS, without
changing a trade)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook, Side
from sdex.matching import MatchingEngine, Outcome, TimeInForce
from sdex.matching.crossing import crossing_entries
from sdex.order import ZERO_ADDRESS, Order, SignedOrder
from tests import bookdriver

KINDS = [*["submit"] * 6, "cancel", "shrink", "funds", "settle", "advance", "rematch", "uncross"]


def random_ops(test: Callable[[list[list[Any]]], None]) -> Callable[..., None]:
    """A property test over random operations (``KINDS``), ``SDEX_BOOK_EXAMPLES`` of them."""
    ops = st.lists(
        st.tuples(st.sampled_from(KINDS), *[st.integers(0, 2**16)] * 3).map(list),
        min_size=10,
        max_size=80,
    )
    examples = int(os.environ.get("SDEX_BOOK_EXAMPLES", "150"))
    checks = [HealthCheck.too_slow]
    out: Callable[..., None] = settings(
        max_examples=examples, deadline=None, suppress_health_check=checks
    )(given(ops=ops)(test))
    return out


def _trace(ops: list[list[Any]], apart: bool) -> list[Any]:
    """Each operation's result and the book's full record of its orders after it."""
    d = bookdriver.Driver(apart=apart, uncross=False)
    out: list[Any] = []
    for op in ops:
        got = d.step(op)
        out.append([got, json.dumps(d.book.snapshot(), sort_keys=True, default=str)])
    return out


@random_ops
def test_private_ladders_fill_as_the_single_ladder(ops: list[list[Any]]) -> None:
    """Differential: the same operations (a quarter of the orders restricted to one of two
    traders, who trade too) on a book with private ladders and on one without: every
    result (matches and their amounts, outcomes, removals) and every order's state agree.

    Walks only (``submit``, ``rematch``; fills released, funds moved, orders cancelled in
    between): ``uncross`` is not called, as it picks the orders it re-matches differently
    by design (the single ladder re-matched every order priced across the best of all,
    restricted ones included, walk46's O(restricted x public); ``crossing_entries`` now
    those that may trade with an order across). Its result, that no two orders that may
    trade stay crossed, is the model's (tests/test_book_state.py, ``never_crossed``)."""
    apart = _trace(ops, True)
    single = _trace(ops, False)
    for i, (a, b) in enumerate(zip(apart, single, strict=True)):
        assert a == b, f"operation {i} {ops[i]}: apart {a[0]} != single ladder {b[0]}"


BASE, QUOTE = "0x" + "ba" * 20, "0x" + "90" * 20
NOBODY = "0x" + "33" * 20
TAKER = "0x" + "44" * 20
_salt = iter(range(1, 10**9))


def _signed(maker: str, taker: str, sell: str, buy: str, m: int, t: int) -> SignedOrder:
    o = Order(maker, taker, sell, buy, m, t, ZERO_ADDRESS, 0, 2**40, next(_salt))
    return SignedOrder(o, bytes(65), next(_salt).to_bytes(32, "big"))


def _maker(k: int) -> str:
    return "0x" + f"{0x1100000 + k:040x}"


def test_a_public_walk_meets_no_order_restricted_to_another_taker() -> None:
    """1,000 asks restricted to an address that never trades, across every bid: none is in
    a public ladder, a public bid's walk and ``uncross`` ask ``may_match`` about none of them
    (the single ladder asked about each, per bid across), and the taker they name fills one
    at its price and time priority, before a public ask at the same price."""
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    engine = MatchingEngine(book)
    for k in range(1000):
        o = _signed(_maker(k), NOBODY, BASE, QUOTE, 100, 100 + k)
        assert engine.submit(o, 1, TimeInForce.GTC).outcome is Outcome.RESTED
    pair = book.pair(BASE, QUOTE)
    assert pair.asks.ranked == [] and pair.best_ask() is None
    assert len(pair) == 1000 and len(list(pair.entries(Side.ASK))) == 1000
    for k in range(20):  # public bids across them all: they rest
        bid = _signed(_maker(5000 + k), ZERO_ADDRESS, QUOTE, BASE, 10_000, 100)
        assert engine.submit(bid, 1, TimeInForce.GTC).outcome is Outcome.RESTED
    asked: list[object] = []

    def may_match(resting: object, incoming: object) -> bool:
        asked.append((resting, incoming))
        return True

    assert engine.uncross(now=1, may_match=may_match) == []
    assert asked == []


def test_the_taker_meets_its_private_ladder_in_price_time_priority() -> None:
    """Orders for TAKER and public ones: TAKER's bid takes them by price, then time, across
    both ladders; another maker's bid takes only the public ones."""
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    engine = MatchingEngine(book)
    cheap = _signed(_maker(8999), TAKER, BASE, QUOTE, 100, 140)
    public = _signed(_maker(9001), ZERO_ADDRESS, BASE, QUOTE, 100, 150)
    mine = _signed(_maker(9000), TAKER, BASE, QUOTE, 100, 150)
    dear = _signed(_maker(9002), ZERO_ADDRESS, BASE, QUOTE, 100, 160)
    for o in (public, mine, cheap, dear):
        assert engine.submit(o, 1, TimeInForce.GTC).outcome is Outcome.RESTED
    other = engine.submit(_signed(_maker(1), ZERO_ADDRESS, QUOTE, BASE, 150, 100), 1, _IOC)
    assert [m.resting.hash for m in other.matches] == [public.hash]
    got = engine.submit(_signed(TAKER, ZERO_ADDRESS, QUOTE, BASE, 700, 400), 1, _IOC)
    assert [m.resting.hash for m in got.matches] == [cheap.hash, mine.hash, dear.hash]
    assert len(book.pair(BASE, QUOTE)) == 0


def test_at_one_price_the_older_order_goes_first_whichever_ladder() -> None:
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    engine = MatchingEngine(book)
    orders = [
        _signed(_maker(k), TAKER if k % 2 else ZERO_ADDRESS, BASE, QUOTE, 100, 150)
        for k in range(6)
    ]
    for o in orders:
        assert engine.submit(o, 1, TimeInForce.GTC).outcome is Outcome.RESTED
    got = engine.submit(_signed(TAKER, ZERO_ADDRESS, QUOTE, BASE, 600, 400), 1, _IOC)
    assert [m.resting.hash for m in got.matches] == [o.hash for o in orders[:4]]


_IOC = TimeInForce.IOC


def _every_ladder(book: OrderBook) -> dict[str, set[str]]:
    """A ``sellers`` that names every private ladder's taker for every token: with it,
    ``crossing_entries`` visits every ladder, as before left53."""
    takers = {t for p in book.pairs for s in (p.bids, p.asks) for t in (s.private or {})}
    return {token: set(takers) for p in book.pairs for token in (p.base, p.quote)}


def _selling(book: OrderBook) -> dict[str, set[str]]:
    """The makers with open orders, by the token they sell, read from the orders (a set
    for each token of a pair)."""
    out: dict[str, set[str]] = {t: set() for p in book.pairs for t in (p.base, p.quote)}
    for e in book._index.values():
        if e.closed is None:
            out.setdefault(e.account.token, set()).add(e.account.maker)
    return out


@random_ops
def test_uncross_visits_only_the_ladders_of_takers_who_sell(ops: list[list[Any]]) -> None:
    """left53: ``crossing_entries`` visits only the private ladders whose taker has open
    orders of the token (``BookBase.sellers``, kept as orders open and close, restored
    from a snapshot too); after every operation (``uncross`` called after those that call
    it) the index is what the open orders say, and every pair's crossing orders are those
    found by visiting every ladder."""
    d = bookdriver.Driver(apart=True, uncross=True)
    for i, op in enumerate(ops):
        d.step(op)
        book = d.book
        assert book.sellers == _selling(book), f"operation {i} {op}"
        for p in book.pairs:
            found = crossing_entries(p, book)
            kept, book.sellers = book.sellers, _every_ladder(book)
            try:
                every = crossing_entries(p, book)
            finally:
                book.sellers = kept
            assert [e.hash for e in found] == [e.hash for e in every], f"operation {i} {op}"
    restored = OrderBook.restore(d.book.snapshot())
    assert restored.sellers == _selling(restored)
