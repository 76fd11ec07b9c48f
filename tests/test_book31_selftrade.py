"""A self-cross removes nothing: every node that holds the same orders holds the same book,
whatever order they arrived in (attack29).

The engine used to remove the resting order of a self-cross (expire maker). Which order is
the resting one depends on arrival, and arrival differs between nodes: gossip, and a chain
reset that reopens thousands of orders, each node at its own pace. After a Hardhat reset
``sdex audit`` found 17 ``books_disagree`` and 47 ``fill_after_node_closed``, all from
``self_trade`` removals. Now matching skips the maker's own orders and both rest.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook, RemovalReason
from sdex.matching import MatchingEngine, MatchResult, Outcome
from sdex.order import SignedOrder
from tests.test_book import BASE, BASE2, A, B, ask, bid, new_book

NOW = 1_700_000_000


def book_state(book: OrderBook) -> list[tuple[bytes, int, int, int, bool, object]]:
    """The book as a node's peers would compare it: every order, by hash."""
    return sorted((s.hash, s.filled, s.pending, s.fillable, s.resting, s.closed) for s in book)


def feed(orders: list[SignedOrder], funds: int | None, *, submit: bool) -> MatchingEngine:
    """A node that gets ``orders`` in this order: matched on arrival (a wallet's, ``submit``)
    or booked and then uncrossed (a peer's, or orders a reset reopened)."""
    eng = MatchingEngine(new_book())
    eng.book.set_funds(A, BASE, funds)
    results: list[MatchResult] = []
    for o in orders:
        if submit:
            results.append(eng.submit(o, NOW))
        else:
            eng.book.add(o)
    results += eng.uncross(now=NOW)
    for r in results:
        assert not r.matches  # one maker: nothing ever trades
        assert all(reason is not RemovalReason.SELF_TRADE for _, reason in r.removed)
    return eng


_PRICE = st.integers(1, 30)


@st.composite
def own_orders(draw: st.DrawFn) -> list[SignedOrder]:
    """Bids and asks of one maker at prices that often cross, in two pairs."""
    out = []
    for _ in range(draw(st.integers(2, 10))):
        base = draw(st.integers(1, 20))
        quote = base * draw(_PRICE)
        pair_base = draw(st.sampled_from([BASE, BASE2]))
        side = draw(st.sampled_from([ask, bid]))
        out.append(side(A, base, quote, pair_base=pair_base))
    return out


@given(
    orders=own_orders(),
    data=st.data(),
    funds=st.sampled_from([None, 0, 7, 25, 10**6]),
    submit=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_two_nodes_fed_one_makers_orders_in_different_orders_agree(
    orders: list[SignedOrder], data: st.DataObject, funds: int | None, submit: bool
) -> None:
    other = data.draw(st.permutations(orders))
    first = feed(orders, funds, submit=submit)
    second = feed(list(other), funds, submit=submit)
    # the same open orders with the same amounts; only the arrival seq may differ, and with
    # it the maker's funds' priority: compare with the funds uncapped too
    a, b = book_state(first.book), book_state(second.book)
    assert [x[0] for x in a] == [x[0] for x in b] == sorted(o.hash for o in orders)
    assert all(x[5] is None for x in a + b)  # nothing was closed
    if funds is None:
        assert a == b


def test_a_self_cross_rests_both_and_other_makers_still_trade_with_each() -> None:
    eng = MatchingEngine(new_book())
    own_ask, other = ask(A, 5, 50), ask(B, 5, 50)
    for o in (own_ask, other):
        assert eng.submit(o, NOW).outcome is Outcome.RESTED
    r = eng.submit(bid(A, 5, 50), NOW)  # meets its own ask first: skips it, trades with B's
    assert not r.removed and [m.resting for m in r.matches] == [other]
    assert own_ask.hash in eng.book and eng.book.get(own_ask.hash).closed is None  # type: ignore[union-attr]
    # a reset reopens A's crossing bid and ask, in either order: both rest on every node
    for order in ([0, 1], [1, 0]):
        node = MatchingEngine(new_book())
        pair = [bid(A, 5, 60), ask(A, 5, 50)]
        for i in order:
            node.book.add(pair[i])
        assert node.uncross(now=NOW) == []
        assert all(node.book.get(o.hash).status == "open" for o in pair)  # type: ignore[union-attr]
        # a third maker's order trades with the better of them, as with anyone's
        r = node.submit(ask(B, 5, 55), NOW)
        assert [m.resting for m in r.matches] == [pair[0]]
