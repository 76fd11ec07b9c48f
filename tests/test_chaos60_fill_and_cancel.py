"""chaos60: an order a block both fills (in part) and cancels on chain is closed
``cancelled`` with the chain's filled amount. Before, the mirror's verdict (cancelled) closed
it with the book's filled amount, the block's fill left out: ``cancelled`` at what was filled
before, the chain more (chaos52 seed 5: the audit's ``fill_after_node_closed``, the order
cancelled on chain)."""

from __future__ import annotations

from pathlib import Path

from sdex.chain.tx import fees_of
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask


async def test_a_block_that_fills_and_cancels_an_order_closes_it_with_the_fill(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    sell = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        assert (await api.post_taken(sell))[0] == 201
        await synced(node, c)
        base_fee = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        fees = (base_fee, 10**11)
        fill = c.exchange.abi.fn("fillOrder").encode(
            sell.order.to_tuple(), sell.signature, 150 * E6
        )
        cancel = c.exchange.abi.fn("cancelOrder").encode(sell.order.to_tuple())
        bob, alice = c.sender(BOB), c.sender(ALICE)
        c.rpc.call("evm_setAutomine", False)
        try:  # one block: Bob's fill of half, then Alice's cancel
            bob.broadcast(bob.sign(c.exchange.address, fill, 400_000, fees=fees))
            alice.broadcast(alice.sign(c.exchange.address, cancel, 200_000, fees=fees))
            c.rpc.call("evm_mine")
        finally:
            c.rpc.call("evm_setAutomine", True)
        info = c.exchange.order_info(sell.order)
        assert info.filled == E18 // 20
        await synced(node, c)
        got = await meta(api, sell)
        # before: "cancelled", 0 filled
        assert (got["status"], got["filledMakerAmount"]) == ("cancelled", str(E18 // 20))
