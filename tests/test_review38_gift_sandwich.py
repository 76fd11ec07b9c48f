"""review38: an honest EOA maker blamed for a shortfall another account made and undid.

Alice (an EOA) has two asks: one on the node, one she gave elsewhere. In the block of the
node's settlement of the first, Carol fills the other through the Exchange just before it
(Alice's WETH out: a real fill, Alice's price) and gives the WETH back just after. The
settlement fails for Alice's funds; read afterwards they are there (unexplained), and the
evidence (the block before, moved by the block's earlier Transfer logs) showed her short:
she was blamed, and a second time would have marked her hostile (every order of hers
removed at its first failure), for what Carol did. Now a transfer out of an account before
the settlement sent by another account (a fill by someone else, a spender's transferFrom)
leaves it not exact: nobody is blamed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.order import SignedOrder, sign_order
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.sandwich import GWEI, Hook, node_on, one_block, send_tx
from tests.test_attack30_gas_gated_wallet import OWNER, gas_gated_wallet
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_review32_untracked_contract_maker import ALWAYS


def gift_sandwicher(c: Chain, other: SignedOrder, amount: int) -> tuple[Hook, list[int]]:
    """At the operator's first send: mining stops, CAROL fills ``other`` for ``amount`` of
    WETH with a high tip; once the settlement waits too, CAROL's transfer of that WETH back to
    its maker is queued with no tip and one block is mined."""
    price = other.order.taker_amount * amount // other.order.maker_amount  # (USDC Carol pays)

    def out() -> int:
        fill = c.exchange.abi.fn("fillOrder").encode(other.order.to_tuple(), other.signature, price)
        send_tx(c, CAROL, c.exchange.address, fill, 300_000, 50 * GWEI)
        return amount

    def back(amount: int) -> None:
        gift = c.weth.abi.fn("transfer").encode(other.order.maker, amount)
        send_tx(c, CAROL, c.weth.address, gift, 300_000, 0)

    return one_block(c, 1, out, back)


async def _gifted(
    c: Chain, tmp_path: Path, listed: SignedOrder, other: SignedOrder, size: int, maker: str
) -> None:
    """``listed`` posted and a buy of ``size`` facing it, sandwiched by CAROL's fill of
    ``other`` and her gift back: once ``listed`` was judged, ``maker`` is not blamed."""
    intercept, done = gift_sandwicher(c, other, size)
    async with node_on(c, tmp_path, intercept) as (node, api):
        assert (await api.post_taken(listed))[0] == 201
        buy = c.sign(bid(c, BOB, size, 1600 * E6))
        assert (await api.post_taken(buy))[0] == 201
        await wait_for(lambda: len(done) > 1, timeout=30.0)  # (the sandwich was mined)

        async def judged() -> bool:
            rec = node.records.get(listed.hash)
            return rec is not None and (rec.failures > 0 or rec.status != "open")

        await wait_for(judged, timeout=30.0)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)
        assert done[1] == 1, done  # (fill, settlement, gift in one block)
        assert node.blamed_makers.score(maker) == 0.0  # before: 1.0, blamed


async def test_a_shortfall_made_and_undone_by_another_account_is_not_the_makers(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    keep = E18  # (Alice's WETH: both asks' 0.6 do not fit in it)
    c.weth.transfer(c.sender(ALICE), c.address(5), c.weth.balance_of(c.address(ALICE)) - keep)
    listed = c.sign(ask(c, ALICE, 6 * E18 // 10, 1500 * E6))
    other = c.sign(ask(c, ALICE, 6 * E18 // 10, 1500 * E6))  # (never posted to the node)
    await _gifted(c, tmp_path, listed, other, 6 * E18 // 10, c.address(ALICE))


async def test_a_shortfall_made_and_undone_by_another_is_not_the_contract_makers(
    chain: Chain, tmp_path: Path
) -> None:
    """The same against an honest contract wallet (10 WETH; two asks of 6): its account is
    not exact, and the rule that blames the contract-signed side facing an exact ECDSA one
    (its match settles with the wallet stubbed, at the block before, which misses the fill)
    needs both accounts exact now."""
    c = chain
    wallet = gas_gated_wallet(c, gate=ALWAYS)

    def wallet_ask() -> SignedOrder:
        o = replace(ask(c, ALICE, 6 * E18, 1500 * E6), maker=wallet)
        return sign_order(o, c.domain, c.keys[OWNER])

    listed, other = wallet_ask(), wallet_ask()
    await _gifted(c, tmp_path, listed, other, 6 * E18, wallet)
