"""A maker's funds skip the orders that cannot use their share (attack29).

``sdex.book.funds.allocate`` shares an underfunded maker's funds among its open orders in
time priority. An order whose share is less than its lot (the least it trades) cannot trade
with it: it gets nothing, and the share goes on to the maker's next orders, in the same
order on every node. Before, a never-fundable order (a huge coprime makerAmount: its lot is
more than the maker has) took the whole balance and starved all the maker's other orders.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook, RemovalReason
from sdex.order import SignedOrder
from tests.test_book import BASE, BASE2, A, ask, bid, new_book

HUGE = 2**255 - 1  # with takerAmount 2**255 - 2 (coprime): its one lot is all of it


def model(book: OrderBook, orders: list[SignedOrder], spendable: int) -> dict[bytes, int]:
    """The greedy allocation in time priority, skipping orders whose share is below their
    lot, the rest to the oldest skipped (no fills in flight here)."""
    left = spendable
    out: dict[bytes, int] = {}
    skipped: list[bytes] = []
    for o in orders:  # in arrival order, which is the book's seq order
        e = book.entry(o.hash)
        rem = e.maker_amount - e.filled
        take = min(rem, left)
        if take < rem and take < e.lot:
            take = 0
            skipped.append(o.hash)
        out[o.hash] = take
        left -= take
    if left and skipped:  # what none could use: to the oldest passed over
        out[skipped[0]] = left
    return out


def test_a_never_fundable_order_does_not_starve_the_makers_others() -> None:
    book = new_book()
    huge = ask(A, HUGE, HUGE - 1)
    small = [ask(A, 10**20 + i, 3 * 10**20) for i in range(6)]
    for o in (huge, *small):
        book.add(o)
    book.set_funds(A, BASE, 1000 * 10**18)
    assert book.get(huge.hash).status == "unfunded"  # type: ignore[union-attr]
    for o in small:
        s = book.get(o.hash)
        assert s is not None and s.status == "open" and s.fillable == o.order.maker_amount
    # it holds only what none of the others can use (offered: nothing)
    assert book.entry(huge.hash).fillable == 1000 * 10**18 - sum(
        o.order.maker_amount for o in small
    )
    assert book.get(huge.hash).fillable == 0  # type: ignore[union-attr]
    book.remove(small[0].hash, RemovalReason.CANCELLED)  # the others keep theirs
    for o in small[1:]:
        s = book.get(o.hash)
        assert s is not None and s.fillable == o.order.maker_amount


_AMOUNT = st.one_of(
    st.integers(1, 10**6),
    st.integers(1, 2**255 - 1),
    st.sampled_from([HUGE, 10**18, 3**40]),
)


@given(
    specs=st.lists(st.tuples(st.integers(0, 2), _AMOUNT, _AMOUNT), min_size=1, max_size=12),
    funds=st.lists(st.integers(0, 2**256 - 1) | st.integers(0, 10**7), min_size=1, max_size=3),
    cancels=st.lists(st.integers(0, 11), max_size=4),
)
@settings(max_examples=400, deadline=None)
def test_funds_go_to_the_orders_that_can_use_them(
    specs: list[tuple[int, int, int]], funds: list[int], cancels: list[int]
) -> None:
    """Whatever the amounts, the funds, and the order of fund changes and cancels: each of a
    maker's orders (selling BASE in two pairs... and QUOTE, a separate account) gets exactly
    the model's share, and is offered iff that share is at least its lot."""
    book = new_book()
    orders: list[SignedOrder] = []
    for kind, m, t in specs:
        if kind == 0:
            o = ask(A, m, t)
        elif kind == 1:
            o = ask(A, m, t, pair_base=BASE2)
        else:
            o = bid(A, t, m)  # sells QUOTE: another account, uncapped
        book.add(o)
        orders.append(o)
    for amount in funds:
        book.set_funds(A, BASE, amount)
        book.set_funds(A, BASE2, None)
    for i in cancels:
        if i < len(orders) and book.find(orders[i].hash) is not None:
            book.remove(orders[i].hash, RemovalReason.CANCELLED)
            orders.pop(i)
    # BASE and BASE2 are separate tokens: each its own account
    sells_base = [o for o in orders if o.order.maker_token == BASE]
    want = model(book, sells_base, funds[-1])
    for o in sells_base:
        e = book.entry(o.hash)
        assert e.fillable == want[o.hash], (o.order.maker_amount, o.order.taker_amount)
        s = book.get(o.hash)
        assert s is not None
        assert s.fillable == (want[o.hash] if want[o.hash] >= e.lot else 0)
