"""revert75: the engine's matches against the contract's acceptance, on a real Hardhat.

chaos52 seed 19 (base; ``/tmp/chaos52-19-a04oyi59``, node 2) saw ``PricesDoNotCross`` for an
ask's rest (0.091326023928215356 WETH at 1003) against a bid at the same limit: 91,600,003 USDC
where the bid allows 91,600,002. Those are the contract's amounts, not the node's: the ask's
remainder on chain was smaller than the book's (another node's fill of it, two blocks before,
not in the book yet), the contract took all of it (``min(maxLeftFill, remaining)``), a rest that
is no whole number of the ask's price units, and ``y``'s rounding up broke the bid's limit. The
engine caps such a fill at whole units (``walk``'s ``capped``) when it knows the rest.

Here the node's own arithmetic is put to the contract: a resting ask, partly filled on chain
first (``fillOrder``: rests that are not whole units), the same filled amount in the book, and
an incoming bid at the ask's very limit or a little above, with any budget; every match the
engine makes goes to ``matchOrders`` (``eth_call``, ``maxLeftFill`` = its ``left_filled``, as
the settlement sends it) and must be accepted with exactly the engine's amounts. Passes before
and after: the node's rounding is the contract's; what differed was its view of the order."""

from __future__ import annotations

from math import gcd

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook
from sdex.errors import ContractRevert
from sdex.matching import MatchingEngine
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.test_node import ALICE, BOB, DAVE, E18, ask, bid

UNLIMITED = 10**40
"""The book's funds for every maker: only amounts decide here."""


def accepted(c: Chain, left: SignedOrder, right: SignedOrder, cap: int) -> tuple[int, int] | str:
    """``matchOrders(left, right, cap)`` as the chain would run it now: its (x, y), or the
    name of the error it reverts with."""
    ex = c.exchange
    data = ex.abi.fn("matchOrders").encode(
        left.order.to_tuple(), left.signature, right.order.to_tuple(), right.signature, cap
    )
    try:
        out = c.sender(BOB).call(ex.address, data)
    except ContractRevert as e:
        return str(ex.decoder.decode(e))
    return int.from_bytes(out[:32], "big"), int.from_bytes(out[32:64], "big")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.integers(10**14, E18),
    quote=st.integers(10**5, 10**10),
    prefill=st.one_of(st.none(), st.floats(0.001, 0.999)),
    units=st.integers(1, 10**6),
    over=st.integers(0, 3),
    minimums=st.booleans(),
)
def test_the_engines_matches_are_the_contracts(
    chain: Chain,
    base: int,
    quote: int,
    prefill: float | None,
    units: int,
    over: int,
    minimums: bool,
) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, base, quote))
    filled = 0
    if prefill is not None and int(quote * prefill) > 0:
        c.exchange.fill_order(c.sender(DAVE), resting, int(quote * prefill))
        filled = c.exchange.order_info(resting.order).filled
    o = resting.order
    book = OrderBook([(o.maker_token, o.taker_token)], default_funds=UNLIMITED)
    if minimums:
        book.minimums = {o.maker_token: 10**14, o.taker_token: 10**5}
    engine = MatchingEngine(book)
    now = c.now()
    if filled >= base:
        return
    engine.submit(resting, now, filled=filled)
    # the bid: the ask's limit exactly (``units`` of its reduced price, at most 1M USDC of
    # Bob's 10M), or ``over`` USDC units better
    g = gcd(base, quote)
    unit, tunit = base // g, quote // g
    n = max(1, min(units, 10**12 // tunit))
    i_base, i_quote = unit * n, tunit * n + over
    incoming = c.sign(bid(c, BOB, i_base, i_quote))
    result = engine.submit(incoming, now)
    for m in result.matches:
        got = accepted(c, m.resting, m.incoming, m.left_filled)
        assert got == (m.left_filled, m.right_filled), (m.amounts, got, filled)


def test_seed_19s_revert_is_the_chains_smaller_rest(chain: Chain) -> None:
    """The seed-19 ask, filled on chain as it was by block 90 (three fills: the node's own in
    blocks 88 and 90, another node's in block 89) against the bid at its limit: matched from
    the book without block 89's fill, the contract answers with exactly the revert seen
    (x = the chain's rest, y = 91,600,003 USDC); matched from the chain's view, it takes the
    engine's amounts (whole units of the ask: 0.091326 WETH for 91,599,978 USDC)."""
    c = chain
    resting = c.sign(ask(c, ALICE, 4 * E18 // 10, 401_200_000))  # 0.4 WETH at 1003
    for pays in (104_000_000, 103_799_999, 101_799_999):  # blocks 88, 89, 90
        c.exchange.fill_order(c.sender(DAVE), resting, pays)
    on_chain = c.exchange.order_info(resting.order).filled
    assert on_chain == 308_673_976_071_784_644
    seen = on_chain - 103_489_530_408_773_678  # without block 89's fill
    incoming = c.sign(bid(c, BOB, 3 * E18 // 10, 300_900_000))  # 0.3 WETH at 1003
    o = resting.order
    for filled, expect in (
        (seen, "PricesDoNotCross(leftOrderHash="),
        (on_chain, (91_326_000_000_000_000, 91_599_978)),
    ):
        book = OrderBook([(o.maker_token, o.taker_token)], default_funds=UNLIMITED)
        book.minimums = {o.maker_token: 10**14, o.taker_token: 10**5}  # (the devnet's)
        engine = MatchingEngine(book)
        engine.submit(resting, c.now(), filled=filled)
        (m,) = engine.submit(incoming, c.now()).matches
        got = accepted(c, m.resting, m.incoming, m.left_filled)
        if isinstance(expect, str):
            assert isinstance(got, str) and got.startswith(expect), got
            assert "makerFill=91326023928215356, takerFill=91600003" in got, got
        else:
            assert got == expect == (m.left_filled, m.right_filled), (got, m.amounts)
