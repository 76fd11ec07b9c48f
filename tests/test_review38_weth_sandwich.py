"""review38: an EOA maker's one-block sandwich through WETH9's ``withdraw`` and ``deposit``,
blamed on the honest contract wallet facing it.

The evidence path (``sdex.settlement.evidence``) reads the funds at the block before the
settlement's and moves them by the block's earlier ``Transfer`` and ``Approval`` logs. WETH9
(the most listed token there is) moves a balance by ``withdraw``/``deposit`` too, logged as
``Withdrawal(src, wad)``/``Deposit(dst, wad)``, no ``Transfer``: Bob's withdraw just before
the settlement in its block, and his deposit just after, left his funds read as there and
exact; nothing else found, the contract-signed side (the honest wallet's bid) was blamed
and removed. Any other log of the token naming the account now makes it not exact:
nobody is blamed, and the pair is barred after ``PAIR_TRIES`` (both orders stay).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import Token, deploy, load_abi
from sdex.deployment import TokenInfo
from sdex.order import sign_order
from sdex.settlement.blame import PAIR_TRIES
from tests.conftest import Chain
from tests.sandwich import GWEI, Hook, listing, node_on, one_block, pair_decided, send_tx
from tests.test_attack30_gas_gated_wallet import OWNER
from tests.test_contract33_sandwich import SANDWICHES, usdc_wallet
from tests.test_node import BOB, E6, E18

WETH9 = load_abi("WrappedEther")


def weth9(c: Chain) -> str:
    """A WETH9 holding 1 ether of BOB's, approved (unlimited) to the Exchange."""
    w = deploy(c.sender(0), "WrappedEther")
    bob = c.sender(BOB)
    bob.wait(bob.send(w, WETH9.fn("deposit").encode(), 100_000, value=E18))
    Token(c.rpc, w).approve(bob, c.exchange.address, 2**256 - 1)
    return w


def withdraw_sandwicher(c: Chain, w: str, maker: int, rounds: int) -> tuple[Hook, list[int]]:
    """At each of the first ``rounds`` sends of the operator: mining stops, ``maker``
    withdraws all its WETH9 with a high tip; once the settlement waits too, its deposit of
    the same amount is queued with no tip and one block is mined (out, settlement, back)."""

    def out() -> int:
        amount = Token(c.rpc, w).balance_of(c.address(maker))
        send_tx(c, maker, w, WETH9.fn("withdraw").encode(amount), 100_000, 50 * GWEI)
        return amount

    def back(amount: int) -> None:
        send_tx(c, maker, w, WETH9.fn("deposit").encode(), 100_000, 0, value=amount)

    return one_block(c, rounds, out, back)


async def test_a_weth9_withdraw_sandwich_is_not_blamed_on_the_contract_maker(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    w = weth9(c)
    wallet = usdc_wallet(c)
    honest = sign_order(
        replace(c.order(BOB, c.usdc, 260 * E6, Token(c.rpc, w), E18 // 10), maker=wallet),
        c.domain,
        c.keys[OWNER],
    )
    ask = c.sign(c.order(BOB, Token(c.rpc, w), E18 // 10, c.usdc, 250 * E6))
    intercept, done = withdraw_sandwicher(c, w, BOB, 2 * SANDWICHES)
    tokens = listing({"WETH": TokenInfo(w, 18), "USDC": None})
    async with node_on(c, tmp_path, intercept, tokens) as (node, api):
        assert (await api.post_taken(honest))[0] == 201
        assert (await api.post_taken(ask))[0] == 201
        await pair_decided(node, api, honest, ask)
        meta = (await api.get(f"/v1/orders/{honest.hash_hex}"))[1]["metaData"]
        assert meta["status"] == "open", meta  # before: removed, blamed as the contract side
        assert await api.status(ask) == "open"
        assert set(done[1:]) == {1}, done  # (withdraw, settlement, deposit in one block)
        assert done[0] == PAIR_TRIES, done
