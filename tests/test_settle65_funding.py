"""settle65: ``sdex.node.funding.unpaid`` counts what a settlement signed ahead of a batch
takes from its makers while the mirror has not applied it (the order it pays for shows no
more filled in the mirror than the book confirmed), and only then: a block the mirror applied
before its receipt came is in the mirror's funds already (counted again, it would withdraw a
match the chain fills), and an order the book does not hold leaves it in doubt: signed.
(The node's case, a maker's settlement mined and not yet applied: test_settle65_unpaid_inflight.)"""

from __future__ import annotations

import pytest

from sdex.chain import Exchange, Rpc
from sdex.fillmath import match_amounts
from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.model import Side
from sdex.node.funding import unpaid
from sdex.order import ZERO_ADDRESS, Order, SignedOrder

WETH, USDC = "0x" + "aa" * 20, "0x" + "bb" * 20
ALICE, BOB, ERIN = ("0x" + f"{i:02x}" * 20 for i in (1, 2, 7))
E18, E6 = 10**18, 10**6


def signed(salt: int, maker: str, sell: str, buy: str, amount: int, price: int) -> SignedOrder:
    o = Order(maker, ZERO_ADDRESS, sell, buy, amount, price, ZERO_ADDRESS, 0, 2**40, salt)
    return SignedOrder(o, bytes(65), salt.to_bytes(32, "big"))


def crossing(ask: SignedOrder, bid: SignedOrder) -> Match:
    a, b = ask.order, bid.order
    amounts = match_amounts(
        a.maker_amount, a.taker_amount, 0, 0, b.maker_amount, b.taker_amount, 0, 0, E18
    )
    return Match(ask, bid, amounts, Side.BID)


@pytest.mark.parametrize(
    ("mirror_filled", "book", "short"),
    [
        (0, 0, {0}),  # (not applied: what it takes counts; before, signed and reverted)
        (E18, 0, set()),  # (applied before its receipt came: in the mirror's funds already)
        (0, None, set()),  # (an order the book does not hold: in doubt, signed)
    ],
)
def test_a_settlement_signed_ahead_takes_its_makers_funds_until_the_mirror_has_it(
    mirror_filled: int, book: int | None, short: set[int]
) -> None:
    half = signed(1, ALICE, WETH, USDC, 2 * E18, 2400 * E6)
    ahead = crossing(half, signed(2, BOB, USDC, WETH, 1200 * E6, E18))
    batch = [crossing(half, signed(3, ERIN, USDC, WETH, 1200 * E6, E18))]
    mirror = Mirror(Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20), [WETH, USDC])
    mirror.set_funds((ALICE, WETH), E18, E18)  # (what one match takes)
    mirror.set_funds((ERIN, USDC), 10**30, 10**30)
    mirror.filled[half.hash] = mirror_filled
    confirmed = {half.hash: book} if book is not None else {}
    assert unpaid(batch, [ahead], mirror, confirmed.get) == short
    assert unpaid(batch, [], mirror, confirmed.get) == set()  # (nothing ahead: she can pay)
