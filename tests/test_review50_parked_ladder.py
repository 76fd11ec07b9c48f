"""review50: ``crossing_entries`` (what ``uncross`` re-matches) took a private ladder's best
level for its top whether or not it held an order that can trade now: one unfunded order
restricted to ``T`` (funded when posted, then its allowance withdrawn: parked), priced across
all of ``T``'s orders, had every ``uncross`` (after each block, each settlement's result, and
a few times a second) re-match each of them, for nothing: 1,000 of ``T``'s bids, 1.8 ms an
``uncross`` (compiled) per such taker, any maker's one approval away. Now the top is the best
level that holds an order that can trade now."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import Entry, OrderBook, Side
from sdex.book.levels import Level
from sdex.matching import MatchingEngine, TimeInForce
from sdex.matching.crossing import crossing_entries
from sdex.order import ZERO_ADDRESS
from tests.test_book49_private_ladders import BASE, QUOTE, TAKER, _maker, _signed


def _live(e: Entry) -> bool:
    return e.level is not None and not e.parked and e.closed is None and e.fillable > 0


def _crosses(bid: Level, ask: Level) -> bool:
    return bid.num * ask.den >= ask.num * bid.den


def _may_trade(book: OrderBook) -> list[tuple[bytes, bytes]]:
    """Every pair of live orders that cross and may trade (each order has a maker of its
    own here: no self-trade), as (bid, ask) hashes."""
    pair = book.pair(BASE, QUOTE)
    bids = [e for e in pair.entries(Side.BID) if _live(e)]
    asks = [e for e in pair.entries(Side.ASK) if _live(e)]
    out = []
    for b in bids:
        for a in asks:
            assert b.level is not None and a.level is not None
            if not _crosses(b.level, a.level):
                continue
            if a.taker in (ZERO_ADDRESS, b.maker) and b.taker in (ZERO_ADDRESS, a.maker):
                out.append((b.hash, a.hash))
    return out


def test_an_unfunded_order_restricted_to_a_taker_sends_no_walk() -> None:
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    engine = MatchingEngine(book)
    maker = _maker(1)
    book.set_funds(maker, BASE, 0)  # (its funds gone: it rests parked)
    ask = _signed(maker, TAKER, BASE, QUOTE, 100, 50)
    engine.submit(ask, 1, TimeInForce.GTC)
    for k in range(100):  # all of TAKER's bids across it
        engine.submit(_signed(TAKER, ZERO_ADDRESS, QUOTE, BASE, 150 + k, 100), 1, TimeInForce.GTC)
    pair = book.pair(BASE, QUOTE)
    assert crossing_entries(pair, book) == []
    book.set_funds(maker, BASE, 100)  # funded again: it may trade, and does at once
    assert {e.hash for e in crossing_entries(pair, book)} >= {ask.hash}
    (got,) = engine.uncross(now=1)
    assert [m.resting.hash for m in got.matches] == [ask.hash]


@settings(max_examples=80, deadline=None)
@given(
    asks=st.lists(
        st.tuples(st.integers(40, 160), st.booleans(), st.booleans()), min_size=1, max_size=12
    ),
    bids=st.lists(st.tuples(st.integers(40, 160), st.booleans()), min_size=1, max_size=12),
)
def test_what_uncross_looks_at_may_trade(
    asks: list[tuple[int, bool, bool]], bids: list[tuple[int, bool]]
) -> None:
    """Differential against a brute force: every order ``crossing_entries`` lists crosses a
    live order it may trade with, and every such pair has at least one of its two listed
    (the walk from it meets the other). Asks public or restricted to TAKER, funded or
    not; bids TAKER's or other makers' (resting unmatched: ``OrderBook.add``)."""
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    for k, (price, restricted, funded) in enumerate(asks):
        maker = _maker(k)
        if not funded:
            book.set_funds(maker, BASE, 0)
        book.add(_signed(maker, TAKER if restricted else ZERO_ADDRESS, BASE, QUOTE, 100, price))
    for k, (price, mine) in enumerate(bids):
        maker = TAKER if mine else _maker(100 + k)
        book.add(_signed(maker, ZERO_ADDRESS, QUOTE, BASE, price, 100))
    listed = {e.hash for e in crossing_entries(book.pair(BASE, QUOTE), book)}
    pairs = _may_trade(book)
    may = {h for two in pairs for h in two}
    assert listed <= may, f"{len(listed - may)} listed cross nothing they may trade with"
    assert all(b in listed or a in listed for b, a in pairs), "a crossing was left out"
