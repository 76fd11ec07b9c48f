"""review33: a hostile contract maker's resting ask against an honest contract maker's buy.

attack30/review32 blame a settlement that fails with no one guilty by chain state on the
order signed by a contract (EIP-1271) when the other is signed by its maker's own key. When
both are contract-signed nobody was blamed: both counted a failure, and only the incoming
order went after three. A wallet valid to every read and invalid in a settlement (here: by
the gas left, or burning what it is given there) so rested at the top of the book and
removed every honest contract-signed buy that crossed it, three failed pre-flights each, and
stayed (both tests failed 3 of 3 before the fix). The pre-flight's own revert
names the order whose signature the Exchange refused (``InvalidSignature(hash, maker)``):
that order is the guilty one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import deploy, load_abi
from sdex.order import sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack30_gas_gated_wallet import OPERATOR, OWNER, gas_gated_wallet
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid

BUYER_KEY = 6


def contract_buyer(c: Chain) -> str:
    """An honest contract wallet (valid to every call) holding USDC approved to the Exchange."""
    w = deploy(c.sender(0), "ERC1271Wallet", c.address(BUYER_KEY))
    c.usdc.transfer(c.sender(BOB), w, 1_000 * E6)
    approve = load_abi("ERC1271Wallet").fn("approve")
    c.sender(BUYER_KEY).transact(w, approve.encode(c.usdc.address, c.exchange.address, 2**256 - 1))
    return w


async def test_a_gated_contract_ask_does_not_remove_honest_contract_buys(
    chain: Chain, tmp_path: Path
) -> None:
    statuses = await _crossing(chain, tmp_path, burn=False)
    # before: ['open', 'partially_filled', 'removed'] (the hostile ask stays at the top)
    assert statuses[0] == "removed", statuses
    assert statuses[1] == "filled", statuses
    assert statuses[2] in ("filled", "partially_filled"), statuses


async def test_a_burning_contract_ask_does_not_remove_honest_contract_buys(
    chain: Chain, tmp_path: Path
) -> None:
    """The same wallet burning the gas it is given when a settlement asks: its check fails
    with the 1/64 of the gas the Exchange keeps, enough to revert ``InvalidSignature``."""
    statuses = await _crossing(chain, tmp_path, burn=True)
    assert statuses[0] == "removed", statuses
    assert statuses[2] in ("filled", "partially_filled"), statuses


async def _crossing(c: Chain, tmp_path: Path, burn: bool) -> list[str]:
    """A hostile contract wallet's ask at 250 (valid to every read, invalid or burning in a
    settlement), an honest ask at 255, an honest contract wallet's buy at 260: the statuses
    of the three once the buy is removed or the honest ask filled."""
    hostile = sign_order(
        replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=gas_gated_wallet(c, burn=burn)),
        c.domain,
        c.keys[OWNER],
    )
    honest_ask = c.sign(ask(c, CAROL, E18 // 10, 255 * E6))
    buyer = contract_buyer(c)
    buy = sign_order(
        replace(bid(c, BOB, E18 // 10, 260 * E6), maker=buyer), c.domain, c.keys[BUYER_KEY]
    )
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        for so in (hostile, honest_ask, buy):
            assert (await api.post_taken(so))[0] == 201

        async def decided() -> bool:
            return await api.status(buy) == "removed" or await api.status(honest_ask) == "filled"

        await wait_for(decided, timeout=30.0)
        return [await api.status(so) for so in (hostile, honest_ask, buy)]
