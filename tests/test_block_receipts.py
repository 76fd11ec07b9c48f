"""sdex.settlement.receipts.BlockReceipts: one ``eth_getBlockReceipts`` a block, shared by
the settlements waiting; a chain without it (Hardhat 2.29) is asked by hash instead."""

from __future__ import annotations

from pathlib import Path

from sdex.chain.arpc import AsyncRpc
from sdex.order import SignedOrder
from sdex.settlement.receipts import BlockReceipts
from tests.conftest import Chain, Engine
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all


async def test_a_block_is_read_once_for_every_receipt_looked_for(
    chain: Chain, engine: Engine
) -> None:
    c = chain
    tx = c.sender(1).send(c.address(2), b"", 21_000)
    receipt = c.sender(1).wait(tx)
    other = c.sender(1).send(c.address(2), b"", 21_000)
    later = c.sender(1).wait(other).block_hash
    rpc = AsyncRpc(c.rpc.url)
    try:
        blocks = BlockReceipts(rpc)
        found, raw = await blocks.find([receipt.block_hash], tx)
        if engine == "hardhat":  # not served: the caller asks by hash, for good
            assert (found, raw) == (False, None) and not blocks.supported
            assert await blocks.find([later], other) == (False, None)
            assert blocks.reads == 1
            return
        assert found and isinstance(raw, dict) and raw["transactionHash"] == tx
        # the same block for another waiter: no second read; a block without it: not there
        assert (await blocks.find([receipt.block_hash], tx))[1] == raw
        assert await blocks.find([receipt.block_hash, later], "0x" + "ab" * 32) == (True, None)
        assert blocks.reads == 2
        # a block the chain does not know (announced, then undone): asked by hash instead
        assert await blocks.find(["0x" + "00" * 32], tx) == (False, None)
        assert blocks.supported
    finally:
        await rpc.close()


async def test_settlements_take_their_receipts_from_their_blocks(
    chain: Chain, engine: Engine, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        if engine == "anvil":
            await wait_for(lambda: node.mirror.announced.live)
        for _ in range(3):
            maker = c.sign(ask(c, CAROL, E18, 3000 * E6))
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            await post_all(api, [maker, taker])

            async def filled(s: SignedOrder = taker) -> bool:
                return await api.status(s) == "filled"

            await wait_for(filled)
        blocks = node.settler.blocks
        assert blocks is not None and node.settler.settled == 3
        if engine == "anvil":  # (anvil answers a send before it mines: receipts polled)
            assert blocks.supported and blocks.reads >= 1
