"""recheck84: ``Mirror.knows`` of an order's ``look_of`` says exactly whether ``Mirror.state``
of the order is not None, so a walk of the orders due a recheck that waits on it (their
records evicted, not loaded back) leaves none waiting that the mirror could judge, and judges
none it could not. Every way ``state`` says None: its maker's funds not known, no head, a
bitmap order the mirror may not judge (resumed: ``complete`` false; its maker tainted; its
(maker, nonce) touched), a saved mark unreadable (``OrderMarks.unknown``)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.chain import Exchange, Rpc
from sdex.mirror import Mirror
from sdex.mirror.blocks import Header
from sdex.mirror.state import look_of
from sdex.order import ZERO_ADDRESS, Order, SignedOrder, bitmap_salt

WETH, USDC = "0x" + "aa" * 20, "0x" + "bb" * 20
MAKERS = ["0x" + "01" * 20, "0x" + "02" * 20]


def signed(maker: str, token: str, salt: int, expiry: int) -> SignedOrder:
    other = USDC if token == WETH else WETH
    o = Order(maker, ZERO_ADDRESS, token, other, 10, 10, ZERO_ADDRESS, 0, expiry, salt)
    return SignedOrder(o, bytes(65), salt.to_bytes(32, "big"))


ORDER = st.builds(
    signed,
    st.sampled_from(MAKERS),
    st.sampled_from([WETH, USDC]),
    st.one_of(st.integers(0, 2**64), st.integers(0, 3).map(bitmap_salt)),
    st.sampled_from([1, 2**40]),
)


@settings(max_examples=300, deadline=None)
@given(
    orders=st.lists(ORDER, min_size=1, max_size=6),
    funded=st.sets(st.tuples(st.sampled_from(MAKERS), st.sampled_from([WETH, USDC]))),
    head=st.booleans(),
    complete=st.booleans(),
    tainted=st.sets(st.sampled_from(MAKERS)),
    touched=st.sets(st.tuples(st.sampled_from(MAKERS), st.integers(0, 3))),
    unknown=st.sets(st.integers(0, 5)),
)
def test_knows_of_a_look_is_state_not_none(
    orders: list[SignedOrder],
    funded: set[tuple[str, str]],
    head: bool,
    complete: bool,
    tainted: set[str],
    touched: set[tuple[str, int]],
    unknown: set[int],
) -> None:
    def mirror() -> Mirror:
        m = Mirror(Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20), [WETH, USDC])
        m.funds.update(dict.fromkeys(funded, (5, 5)))
        m.head = Header(7, "0x" + "33" * 32, "0x" + "44" * 32, 1_000) if head else None
        m.bitmaps.complete = complete
        m.bitmaps._tainted.update(tainted)
        m.bitmaps._touched.update(touched)
        m.marks.unknown.update(orders[k].hash for k in unknown if k < len(orders))
        return m

    by_state, by_look = mirror(), mirror()  # (each asked in the same order: the same salts known)
    for so in orders:
        knows = by_look.knows(so.hash, look_of(so))
        assert knows == (by_state.state(so) is not None), so.order
