"""The order book: price-time levels, exact prices, fill state, shared maker funds, snapshot.

Table-driven where the cases are alike; the helpers here build unsigned orders (the book never
checks signatures) and are shared by the other book and matching tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

import pytest

from sdex.book import (
    BookError,
    DepthLevel,
    DuplicateOrder,
    FillStateError,
    InvalidOrder,
    OrderBook,
    RemovalReason,
    Side,
    UnknownOrder,
    UnknownPair,
    ladder,
)
from sdex.fillmath import MAX_MAKER_AMOUNT, UINT256_MAX
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder

BASE = "0x" + "ba" * 20
QUOTE = "0x" + "90" * 20
BASE2 = "0x" + "bb" * 20  # a second pair, BASE2/QUOTE, shares the quote token
OTHER = "0x" + "77" * 20
MAKERS = ["0x" + f"{i:040x}" for i in range(1, 7)]
A, B, C, D = MAKERS[:4]
FEES = "0x" + "fe" * 20
T0 = 1_700_000_000
FAR = T0 + 10**7
DOMAIN = Domain(chain_id=31337, verifying_contract="0x" + "e0" * 20)
_salts = itertools.count(1)


def order(
    maker: str,
    sell: str,
    sell_amount: int,
    buy: str,
    buy_amount: int,
    *,
    taker: str = ZERO_ADDRESS,
    fee: int = 0,
    expiry: int = FAR,
) -> SignedOrder:
    """An order with its real EIP-712 hash and a dummy signature (the book never checks it)."""
    o = Order(
        maker=maker,
        taker=taker,
        maker_token=sell,
        taker_token=buy,
        maker_amount=sell_amount,
        taker_amount=buy_amount,
        fee_recipient=FEES if fee else ZERO_ADDRESS,
        fee_amount=fee,
        expiry=expiry,
        salt=next(_salts),
    )
    return SignedOrder(o, bytes(65), DOMAIN.order_hash(o))


def ask(maker: str, base: int, quote: int, *, pair_base: str = BASE, **kw: object) -> SignedOrder:
    """Sell ``base`` for ``quote``: limit price quote/base."""
    return order(maker, pair_base, base, QUOTE, quote, **kw)  # type: ignore[arg-type]


def bid(maker: str, base: int, quote: int, *, pair_base: str = BASE, **kw: object) -> SignedOrder:
    """Buy ``base`` for ``quote``: limit price quote/base."""
    return order(maker, QUOTE, quote, pair_base, base, **kw)  # type: ignore[arg-type]


def new_book(default_funds: int | None = None) -> OrderBook:
    return OrderBook([(BASE, QUOTE), (BASE2, QUOTE)], default_funds=default_funds)


def hashes(states: object) -> list[bytes]:
    return [s.hash for s in states]  # type: ignore[attr-defined]


# -- pairs ------------------------------------------------------------------------------------


def test_pairs_route_orders_to_sides() -> None:
    book = new_book()
    a, b = ask(A, 1, 2), bid(B, 1, 2, pair_base=BASE2)
    assert book.route(a.order) == (book.pair(BASE, QUOTE), Side.ASK)
    assert book.route(b.order) == (book.pair(BASE2, QUOTE), Side.BID)
    assert book.add_pair(BASE, QUOTE) is book.pair(BASE, QUOTE)  # idempotent
    with pytest.raises(UnknownPair):
        book.pair(QUOTE, BASE)


@pytest.mark.parametrize(
    "base,quote",
    [(QUOTE, BASE), (BASE, BASE), ("0x" + "AB" * 20, QUOTE), ("0x12", QUOTE), (BASE, "usdc")],
)
def test_add_pair_rejects_bad_pairs(base: str, quote: str) -> None:
    book = OrderBook([(BASE, QUOTE)])
    with pytest.raises(ValueError):
        book.add_pair(base, quote)
    assert [(p.base, p.quote) for p in book.pairs] == [(BASE, QUOTE)]


# -- levels: FIFO, exact prices, best and depth -----------------------------------------------


def test_fifo_within_a_level_and_one_level_per_exact_price() -> None:
    book = new_book()
    # 2000/1, 4000/2 and 6000/3 are one price; arrival order decides within it
    orders = [ask(A, 2, 4000), ask(B, 1, 2000), ask(C, 3, 6000)]
    for o in orders:
        book.add(o)
    pair = book.pair(BASE, QUOTE)
    assert len(pair.asks) == 1
    assert hashes(pair.orders(Side.ASK)) == [o.hash for o in orders]
    assert pair.best_ask() == DepthLevel(Fraction(2000), 6, 3)


def test_prices_are_exact_rationals_where_floats_collide() -> None:
    book = new_book()
    big = 10**30
    # float(p) is 1.0 for all three; the book still orders them exactly
    a_hi, a_lo, a_mid = ask(A, big, big + 2), ask(B, big, big), ask(C, big, big + 1)
    b_lo, b_hi = bid(D, big + 3, big), bid(A, big, big - 1)
    for o in (a_hi, a_lo, a_mid, b_lo, b_hi):
        book.add(o)
    pair = book.pair(BASE, QUOTE)
    assert hashes(pair.orders(Side.ASK)) == [a_lo.hash, a_mid.hash, a_hi.hash]
    assert hashes(pair.orders(Side.BID)) == [b_hi.hash, b_lo.hash]
    assert [lv.price for lv in pair.depth(Side.ASK)] == [
        Fraction(1),
        Fraction(big + 1, big),
        Fraction(big + 2, big),
    ]
    best_bid = pair.best_bid()
    assert best_bid is not None and best_bid.price == Fraction(big - 1, big)


def test_best_and_depth_count_only_what_is_fillable() -> None:
    book = new_book()
    for o in [ask(A, 10, 100), ask(B, 5, 55), ask(C, 7, 77), bid(D, 4, 36), bid(A, 3, 24)]:
        book.add(o)
    pair = book.pair(BASE, QUOTE)
    assert pair.depth(Side.ASK) == [
        DepthLevel(Fraction(10), 10, 1),
        DepthLevel(Fraction(11), 12, 2),
    ]
    assert pair.depth(Side.ASK, levels=1) == [DepthLevel(Fraction(10), 10, 1)]
    assert pair.depth(Side.ASK, levels=0) == []
    assert pair.depth(Side.BID) == [DepthLevel(Fraction(9), 36, 1), DepthLevel(Fraction(8), 24, 1)]
    # B's maker has no funds left: its level shows only C's order; A's reserved away entirely
    book.set_funds(B, BASE, 0)
    a_hash = next(iter(pair.orders(Side.ASK))).hash
    book.reserve(a_hash, 10)
    assert pair.best_ask() == DepthLevel(Fraction(11), 7, 1)
    assert len(pair) == 5  # unfunded and fully reserved orders still rest
    assert pair.best_bid() == DepthLevel(Fraction(9), 36, 1)
    empty = new_book().pair(BASE, QUOTE)
    assert empty.best_bid() is None and empty.best_ask() is None and empty.depth(Side.BID) == []


# -- fill state -------------------------------------------------------------------------------


def test_partial_fills_reserve_confirm_release() -> None:
    book = new_book()
    o = ask(A, 100, 1000)
    book.add(o, filled=10)
    st = book.get(o.hash)
    assert st is not None
    assert (st.filled, st.pending, st.remaining, st.fillable) == (10, 0, 90, 90)
    assert st.status == "partially_filled"
    book.reserve(o.hash, 30)
    st = book.get(o.hash)
    assert st is not None
    assert (st.filled, st.pending, st.remaining, st.fillable) == (10, 30, 60, 60)
    assert st.status == "partially_filled"
    book.confirm(o.hash, 20)  # 20 of the 30 settled ...
    book.release(o.hash, 10)  # ... 10 will not
    st = book.get(o.hash)
    assert st is not None
    assert (st.filled, st.pending, st.remaining, st.fillable) == (30, 0, 70, 70)
    book.reserve(o.hash, 70)
    book.confirm(o.hash, 70, filled=69)  # the chain filled less than proposed
    st = book.get(o.hash)
    assert st is not None and (st.filled, st.pending, st.remaining) == (99, 0, 1)
    book.reserve(o.hash, 1)
    book.confirm(o.hash, 1)
    assert o.hash not in book and book.get(o.hash) is None  # filled in full: forgotten
    assert len(book.pair(BASE, QUOTE)) == 0


def test_released_fill_regains_its_time_priority() -> None:
    book = new_book()
    first, second = ask(A, 5, 50), ask(B, 5, 50)
    book.add(first)
    book.add(second)
    book.reserve(first.hash, 5)  # nothing fillable: parked out of the queue
    pair = book.pair(BASE, QUOTE)
    assert pair.best_ask() == DepthLevel(Fraction(10), 5, 1)
    third = ask(C, 5, 50)
    book.add(third)
    book.release(first.hash, 5)
    assert hashes(pair.orders(Side.ASK)) == [first.hash, second.hash, third.hash]
    assert [e.hash for e in pair.entries(Side.ASK)] == [first.hash, second.hash, third.hash]
    assert pair.best_ask() == DepthLevel(Fraction(10), 15, 3)


@pytest.mark.parametrize(
    "chain_filled,expect",
    [
        (0, (0, 40, 60)),  # the chain knows fewer fills than the book: grows back
        (25, (25, 40, 35)),
        (55, (55, 40, 5)),
        (70, (70, 30, 0)),  # pending fills beyond the order cannot settle: dropped
        (100, None),  # filled elsewhere in full: its pending fills cannot settle, forgotten
    ],
)
def test_set_filled_shrinks_by_hash(chain_filled: int, expect: tuple[int, int, int] | None) -> None:
    book = new_book()
    o = ask(A, 100, 1000)
    book.add(o, filled=10)
    book.reserve(o.hash, 40)
    book.set_filled(o.hash, chain_filled)
    st = book.get(o.hash)
    if expect is None:
        assert st is None and o.hash not in book
        assert book.pair(BASE, QUOTE).best_ask() is None
        return
    assert st is not None and (st.filled, st.pending, st.remaining) == expect
    assert st.filled + st.pending + st.remaining == 100


def test_remove_by_hash_and_closed_orders_with_pending_fills() -> None:
    book = new_book()
    a, b, c = ask(A, 5, 50), ask(B, 5, 60), bid(C, 5, 40)
    for o in (a, b, c):
        book.add(o)
    book.remove(b.hash, RemovalReason.CANCELLED)
    assert b.hash not in book
    pair = book.pair(BASE, QUOTE)
    assert hashes(pair.orders(Side.ASK)) == [a.hash]
    assert len(pair.asks) == 1  # the empty level went too
    # an order with fills in flight stays known, but is no longer offered
    book.reserve(a.hash, 2)
    book.remove(a.hash, RemovalReason.CANCELLED)
    st = book.get(a.hash)
    assert st is not None and st.closed is RemovalReason.CANCELLED and st.status == "cancelled"
    assert (st.fillable, st.pending, st.resting) == (0, 2, False)
    assert pair.best_ask() is None
    book.release(a.hash, 2)
    assert a.hash not in book
    assert len(book) == 1


def test_expire_closes_orders_by_the_contracts_rule() -> None:
    book = new_book()
    soon, later = ask(A, 1, 10, expiry=T0 + 10), ask(B, 1, 10, expiry=T0 + 20)
    book.add(soon)
    book.add(later)
    assert book.next_expiry() == T0 + 10
    assert book.expire(T0 + 9) == []
    assert book.expire(T0 + 10) == [(soon.hash, RemovalReason.EXPIRED)]  # now >= expiry
    assert soon.hash not in book and later.hash in book
    assert book.expire(T0 + 100) == [(later.hash, RemovalReason.EXPIRED)]
    assert len(book) == 0


def test_orders_placed_and_cancelled_with_new_expiries_leave_no_expiry_buckets() -> None:
    """An attacker's place/cancel with ever new expiries (intake bounds only how many are
    open) keeps no empty expiry bucket and no stale heap beyond a bound; expiry still works."""
    book = new_book()
    keep = ask(B, 1, 10, expiry=T0 + 5_000)
    book.add(keep)
    for i in range(2_000):
        o = ask(A, 1, 10 + i % 7, expiry=T0 + 10 + i)
        book.add(o)
        book.remove(o.hash, RemovalReason.CANCELLED)
    assert list(book._expiry_at) == [T0 + 5_000]
    assert len(book._expiry_heap) <= 2 * len(book._expiry_at) + 64
    late = ask(A, 1, 10, expiry=T0 + 20)  # an expiry whose bucket was emptied before
    book.add(late)
    assert book.expire(T0 + 4_999) == [(late.hash, RemovalReason.EXPIRED)]
    assert book.expire(T0 + 5_000) == [(keep.hash, RemovalReason.EXPIRED)]
    assert len(book) == 0 and not book._expiry_at


# -- maker funds ------------------------------------------------------------------------------


def test_maker_funds_are_shared_in_price_time_priority_across_pairs() -> None:
    book = new_book()
    # A sells QUOTE in three bids over two pairs, oldest first; C's funds are separate
    b1, b2, b3 = bid(A, 10, 30), bid(A, 10, 50, pair_base=BASE2), bid(A, 10, 40)
    c1 = bid(C, 10, 45)
    for o in (b1, b2, b3, c1):
        book.add(o)
    book.set_funds(A, QUOTE, 70)

    def fillable() -> list[int]:
        return [s.fillable if (s := book.get(o.hash)) else -1 for o in (b1, b2, b3, c1)]

    assert fillable() == [30, 40, 0, 45]
    assert book.get(b3.hash).status == "unfunded"  # type: ignore[union-attr]
    # the book offers no more than A can pay, whatever the price order
    pair = book.pair(BASE, QUOTE)
    assert pair.depth(Side.BID) == [
        DepthLevel(Fraction(9, 2), 45, 1),
        DepthLevel(Fraction(3), 30, 1),
    ]
    book.reserve(b1.hash, 10)  # pending fills spend A's funds first; others keep theirs
    assert fillable() == [20, 40, 0, 45]
    book.confirm(b1.hash, 10)  # tokens left: spendable 60
    assert book.funds(A, QUOTE) == 60 and fillable() == [20, 40, 0, 45]
    book.remove(b2.hash, RemovalReason.CANCELLED)  # its share goes to the next order
    assert fillable() == [20, -1, 40, 45]
    book.set_funds(A, QUOTE, 5)
    assert fillable() == [5, -1, 0, 45]
    book.set_funds(A, QUOTE, 2)  # less than one unit at b1's price (3 quote for 1 base)
    assert fillable() == [0, -1, 0, 45]
    assert book.get(b1.hash).status == "unfunded"  # type: ignore[union-attr]
    book.set_funds(A, QUOTE, None)  # no cap
    assert fillable() == [20, -1, 40, 45]
    book.set_funds(A, BASE, 0)  # another token's account: no effect on bids
    assert fillable() == [20, -1, 40, 45]


def test_default_funds_zero_keeps_unreported_makers_unfunded() -> None:
    book = new_book(default_funds=0)
    o = ask(A, 10, 100)
    book.add(o)
    assert book.get(o.hash).fillable == 0  # type: ignore[union-attr]
    assert book.pair(BASE, QUOTE).best_ask() is None
    book.set_funds(A, BASE, 4)
    assert book.get(o.hash).fillable == 4  # type: ignore[union-attr]
    assert book.funds(A, BASE) == 4 and book.funds(B, BASE) == 0


def test_a_makers_accounts_are_kept_in_order_and_let_go_from_any_place() -> None:
    book = new_book()
    a1, b1, a2 = ask(A, 10, 100), bid(A, 10, 30), ask(A, 10, 100, pair_base=BASE2)
    for o in (a1, b1, a2, ask(B, 10, 100)):
        book.add(o)

    def tokens() -> list[str]:
        return [a.token for a in book.accounts() if a.maker == A]

    assert tokens() == [BASE, QUOTE, BASE2]  # made in this order, listed in it
    assert hashes(book.orders_of(A, QUOTE)) == [b1.hash] and book.funds(A, QUOTE) is None
    book.remove(b1.hash, RemovalReason.CANCELLED)  # the middle one goes
    assert tokens() == [BASE, BASE2] and list(book.orders_of(A, QUOTE)) == []
    book.remove(a1.hash, RemovalReason.CANCELLED)  # the first one goes
    assert tokens() == [BASE2] and hashes(book.orders_of(A, BASE2)) == [a2.hash]
    book.add(b1)  # made again: last
    assert tokens() == [BASE2, QUOTE]
    book.remove(a2.hash, RemovalReason.CANCELLED)
    book.remove(b1.hash, RemovalReason.CANCELLED)  # the maker's last: no account left
    assert tokens() == [] and [a.maker for a in book.accounts()] == [B]


# -- bad inputs raise the book's errors and change nothing ------------------------------------


def _edit(**kw: object) -> Callable[[SignedOrder], SignedOrder]:
    def f(s: SignedOrder) -> SignedOrder:
        o = replace(s.order, **kw)  # type: ignore[arg-type]
        try:
            h = DOMAIN.order_hash(o)
        except OverflowError:  # a field beyond its type: no EIP-712 hash, any id will do
            h = b"\xee" * 32
        return SignedOrder(o, s.signature, h)

    return f


BAD_ORDERS: list[tuple[str, Callable[[SignedOrder], SignedOrder], int, type[BookError]]] = [
    ("zero maker amount", _edit(maker_amount=0), 0, InvalidOrder),
    ("zero taker amount", _edit(taker_amount=0), 0, InvalidOrder),
    ("maker amount has the cancel bit", _edit(maker_amount=MAX_MAKER_AMOUNT + 1), 0, InvalidOrder),
    ("taker amount past uint256", _edit(taker_amount=UINT256_MAX + 1), 0, InvalidOrder),
    ("fee above taker amount", _edit(fee_amount=1001, fee_recipient=FEES), 0, InvalidOrder),
    ("fee without recipient", _edit(fee_amount=1), 0, InvalidOrder),
    ("tokens of no pair", _edit(taker_token=OTHER), 0, UnknownPair),
    ("same tokens", _edit(taker_token=BASE), 0, UnknownPair),
    ("base for base", _edit(taker_token=BASE2), 0, UnknownPair),
    ("already filled", lambda s: s, 100, InvalidOrder),
    ("filled beyond the amount", lambda s: s, 101, InvalidOrder),
    ("negative filled", lambda s: s, -1, InvalidOrder),
]


@pytest.mark.parametrize(
    "mutate,filled,error", [c[1:] for c in BAD_ORDERS], ids=[c[0] for c in BAD_ORDERS]
)
def test_bad_orders_raise_and_change_nothing(
    mutate: Callable[[SignedOrder], SignedOrder], filled: int, error: type[BookError]
) -> None:
    book = new_book()
    book.add(ask(A, 100, 1000))
    before = book.snapshot()
    bad = mutate(ask(B, 100, 1000))
    with pytest.raises(error):
        book.add(bad, filled=filled)
    assert book.snapshot() == before


def test_duplicate_order_is_rejected() -> None:
    book = new_book()
    o = ask(A, 100, 1000)
    book.add(o)
    before = book.snapshot()
    with pytest.raises(DuplicateOrder):
        book.add(o)
    with pytest.raises(DuplicateOrder):
        book.register(o, filled=5)
    assert book.snapshot() == before


MISSING = b"\x11" * 32
BAD_CALLS: list[tuple[str, Callable[[OrderBook, bytes], None], type[Exception]]] = [
    ("reserve beyond fillable", lambda b, h: b.reserve(h, 91), FillStateError),
    ("reserve zero", lambda b, h: b.reserve(h, 0), FillStateError),
    ("confirm beyond pending", lambda b, h: b.confirm(h, 6), FillStateError),
    ("confirm negative fill", lambda b, h: b.confirm(h, 5, filled=-1), FillStateError),
    ("release beyond pending", lambda b, h: b.release(h, 6), FillStateError),
    ("release negative", lambda b, h: b.release(h, -1), FillStateError),
    ("set_filled beyond amount", lambda b, h: b.set_filled(h, 101), FillStateError),
    ("set_filled negative", lambda b, h: b.set_filled(h, -1), FillStateError),
    ("negative funds", lambda b, h: b.set_funds(A, BASE, -1), ValueError),
    ("remove unknown", lambda b, h: b.remove(MISSING, RemovalReason.CANCELLED), UnknownOrder),
    ("reserve unknown", lambda b, h: b.reserve(MISSING, 1), UnknownOrder),
    ("confirm unknown", lambda b, h: b.confirm(MISSING, 1), UnknownOrder),
    ("release unknown", lambda b, h: b.release(MISSING, 1), UnknownOrder),
    ("set_filled unknown", lambda b, h: b.set_filled(MISSING, 1), UnknownOrder),
    ("entry unknown", lambda b, h: b.entry(MISSING), UnknownOrder),
]


@pytest.mark.parametrize("call,error", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_calls_raise_and_change_nothing(
    call: Callable[[OrderBook, bytes], None], error: type[Exception]
) -> None:
    book = new_book()
    o = ask(A, 100, 1000)
    book.add(o, filled=5)
    book.reserve(o.hash, 5)
    before = book.snapshot()
    state = book.get(o.hash)
    with pytest.raises(error):
        call(book, o.hash)
    assert book.snapshot() == before and book.get(o.hash) == state
    assert book.get(MISSING) is None and MISSING not in book


def test_book_errors_are_sdex_errors_and_builtins() -> None:
    from sdex.errors import SdexError

    assert issubclass(BookError, SdexError)
    assert issubclass(UnknownOrder, KeyError) and issubclass(InvalidOrder, ValueError)
    assert str(UnknownOrder("order 0x12 is not in the book")) == "order 0x12 is not in the book"


# -- snapshot ---------------------------------------------------------------------------------


def test_snapshot_restore_round_trip() -> None:
    book = new_book(default_funds=10**9)
    a1, a2, a3 = ask(A, 10, 100), ask(B, 10, 110, fee=7), ask(A, 10, 100, expiry=T0 + 99)
    b1, b2 = bid(C, 10, 90), bid(D, 3, 30, pair_base=BASE2, taker=A)
    for o in (a1, a2, a3, b1, b2):
        book.add(o)
    book.set_funds(A, BASE, 15)  # a3 gets 5
    book.reserve(a1.hash, 4)
    book.confirm(a1.hash, 2)  # B's implicit account: spendable below the default
    book.reserve(a2.hash, 3)
    book.confirm(a2.hash, 3)
    book.reserve(b1.hash, 6)
    book.remove(b1.hash, RemovalReason.CANCELLED)  # closed, 6 pending
    data = book.snapshot()
    restored = OrderBook.restore(data)
    assert restored.snapshot() == data
    assert list(restored) == list(book)  # same states: fill state, fillable, closed, seq
    for p, q in zip(book.pairs, restored.pairs, strict=True):
        for side in Side:
            assert hashes(p.orders(side)) == hashes(q.orders(side))
            assert p.depth(side) == q.depth(side)
    assert restored.funds(A, BASE) == 13 and restored.funds(B, BASE) == 10**9 - 3
    # it goes on the same way: new orders queue behind the restored ones
    for bk in (book, restored):
        bk.add(ask(C, 10, 100))
        bk.release(a1.hash, 2)
    assert [s.seq for s in book] == [s.seq for s in restored]
    assert book.get(a1.hash) == restored.get(a1.hash)


def test_restore_rejects_an_unknown_version() -> None:
    data = new_book().snapshot()
    data["version"] = 99
    with pytest.raises(ValueError):
        OrderBook.restore(data)


def test_an_emptied_level_is_kept_as_a_spare_then_listed_again_in_its_place() -> None:
    book = new_book()
    asks = book.pair(BASE, QUOTE).asks
    low, mid, high = ask(A, 1, 10), ask(A, 1, 20), ask(A, 1, 30)
    for o in (low, mid, high):
        book.add(o)
    level = ladder.level_at(asks, 20, 1)
    book.remove(mid.hash, RemovalReason.CANCELLED)
    # out of the side's price order, and of its length and depth, but kept for reuse
    assert [(lv.num, lv.den) for lv in asks] == [(10, 1), (30, 1)] and len(asks) == 2
    assert not level.listed and level.queue == [] and asks.spares == 1
    again = ask(B, 1, 20)
    book.add(again)
    assert ladder.level_at(asks, 20, 1) is level and level.listed and asks.spares == 0
    assert [(lv.num, lv.den) for lv in asks] == [(10, 1), (20, 1), (30, 1)]
    assert hashes(book.pair(BASE, QUOTE).orders(Side.ASK)) == [low.hash, again.hash, high.hash]


def test_spare_levels_are_bounded() -> None:
    book = new_book()
    asks = book.pair(BASE, QUOTE).asks
    for price in range(1, 200):  # each level made, then emptied
        o = ask(A, 1, price)
        book.add(o)
        book.remove(o.hash, RemovalReason.CANCELLED)
        assert asks.spares <= len(asks) + 64
        assert len(asks.levels) == asks.spares + len(asks)
    assert len(asks) == 0 and asks.best is None
    assert len(asks.levels) <= 65
