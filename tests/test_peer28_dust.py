"""A dust close every node makes the same way (attack28: an order matched again as the
incoming side was closed ``filled``/dust on its own node, ``blocked`` by the best order
across, while its peers, which apply only the fill they see on chain, kept it
``partially_filled``). The rule all nodes apply from the chain's filled amount: a remainder
is dust when, at the order's own price, it asks for less than the taker token's minimum
(no counter order may give less than that minimum: intake's ``BELOW_MINIMUM``, the book's
lot), as it already was when it sells less than the maker token's."""

from __future__ import annotations

from math import gcd

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook, RemovalReason
from sdex.matching import MatchingEngine
from tests.test_book import BASE, BASE2, QUOTE, T0, A, B, ask, bid

MIN_BASE = 10
MIN_QUOTE = 10


def book() -> OrderBook:
    b = OrderBook([(BASE, QUOTE), (BASE2, QUOTE)], default_funds=None)  # (funds unbounded)
    b.minimums = {BASE: MIN_BASE, QUOTE: MIN_QUOTE}
    return b


def test_a_fill_seen_on_chain_closes_a_remainder_that_asks_for_less_than_the_minimum() -> None:
    """A bid of 100 base for 1,000 quote filled on chain to 950 quote: 50 quote left buys 5
    base, below the base minimum of 10: no ask may trade with it (each gives at least 10
    base), so every node closes it, as the node that matched it did (``blocked``)."""
    peer = book()
    b = bid(B, 100, 1000)
    peer.add(b)
    peer.set_filled(b.hash, 950)
    st_ = peer.get(b.hash)
    assert st_ is None or st_.closed is RemovalReason.DUST, st_


def test_the_owner_closes_it_the_same_way() -> None:
    """The bid's own node: an ask of 95 base takes 950 quote of it; what is left (50 quote,
    5 base at its price) is closed at the fill, before any re-match."""
    eng = MatchingEngine(book())
    b = bid(B, 100, 1000)
    eng.submit(b, T0)
    r = eng.submit(ask(A, 95, 950), T0)
    assert [m.amounts.left_filled for m in r.matches] == [950]
    eng.confirm_all(r.matches)
    st_ = eng.book.get(b.hash)
    assert st_ is None or st_.closed is RemovalReason.DUST, st_


@settings(max_examples=200, deadline=None)
@given(
    base=st.integers(MIN_BASE, 10_000),
    quote=st.integers(MIN_QUOTE, 10_000),
    filled=st.integers(0, 10_000),
)
def test_a_rest_left_open_can_always_be_taken_at_its_price(
    base: int, quote: int, filled: int
) -> None:
    """Whatever the fill seen on chain: a bid left open still asks for at least the base
    minimum at its own price (an ask of that size can take it), or is all or nothing at a
    cost of at least both minimums; one closed as dust is neither."""
    peer = book()
    b = bid(B, base, quote)
    peer.add(b)
    filled = min(filled, quote)
    peer.set_filled(b.hash, filled)
    left = quote - filled
    st_ = peer.get(b.hash)
    is_open = st_ is not None and st_.closed is None
    g = gcd(base, quote)
    unit, tunit = quote // g, base // g  # (a bid's maker token is the quote)
    units = max(-(-MIN_QUOTE // unit), -(-MIN_BASE // tunit), 1)  # fewest reaching both
    whole = left >= units * unit
    # or less than its lot, all or nothing at its own cost (dust38: the contract fills it,
    # and it was closed as dust): open while that moves at least both minimums
    cost = -(-left * base // quote)
    rest = 0 < left < units * unit and left >= MIN_QUOTE and cost >= MIN_BASE
    assert is_open == (whole or rest), (left, units, unit)
    if whole:  # an ask of the base minimum, at the bid's own price, can take it
        assert left * base // quote >= MIN_BASE and left >= MIN_QUOTE
    elif rest:  # an ask of its cost takes all of it
        assert st_ is not None and st_.lot == left
