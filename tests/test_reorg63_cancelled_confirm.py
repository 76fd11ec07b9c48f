"""left63's confirm fix pinned: the confirm of a match of an order closed here while the match
was in flight (its maker's soft cancel) never lowers the record's filled amount. The order:
Alice's ask rests; Bob's bid matches 0.3 of it, its settlement pooled; Dave fills 0.5 of it
on chain in a block that leaves the settlement out (a base fee over its fee cap, for one
block); Alice soft-cancels it: the record is ``cancelled`` at the chain's 0.5 (the cancel
takes the mirror's fills, then the chain's: ``_read_cancelled``). The settlement lands with
the watcher held: the confirm had set the record's filled to the book's 0 + 0.3, under the
0.5 it showed (0.8 only once the watcher applied the block: ``_closed_follow_chain``); now
``max``. Real Hardhat, a real node and its store."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain.tx import fees_of
from sdex.devnet import Devnet
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, DAVE, E6, E18, ask, bid
from tests.test_reorg63_evicted_recheck import PollHold


async def test_the_confirm_of_an_order_cancelled_in_flight_never_lowers_its_filled(
    devnet: Devnet, chain: Chain, tmp_path: Path
) -> None:
    if devnet.engine != "hardhat":
        pytest.skip("anvil drops from its pool a settlement a block's base fee left out")
    c = chain
    sell = c.sign(ask(c, ALICE, E18, 3000 * E6), ALICE)
    c.usdc.approve(c.sender(DAVE), c.exchange.address, 2**256 - 1)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_taken(sell))[0] == 201
        await synced(node, c)
        base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        c.rpc.call("evm_setAutomine", False)
        try:
            buy = c.sign(bid(c, BOB, 3 * E18 // 10, 900 * E6), BOB)
            code, body = await api.post_taken(buy)
            assert code == 201 and body["matches"], body
            await wait_for(lambda: node.settler.sent == 1 and not node.settler.sends)
            (pooled,) = node.settler.in_flight
            # Dave's fill of half, alone in a block whose base fee is over the settlement's cap
            high = 100 * (2 * base + 10**9)
            data = c.exchange.abi.fn("fillOrder").encode(
                sell.order.to_tuple(), sell.signature, 1500 * E6
            )
            dave = c.sender(DAVE)
            c.rpc.call("eth_sendRawTransaction", dave.sign(c.exchange.address, data, 300_000,
                                                           fees=(high, 10**9)).raw)  # fmt: skip
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(high))
            c.rpc.call("evm_mine")
            assert c.rpc.call("eth_getTransactionReceipt", pooled) is None
            assert c.exchange.order_info(sell.order).filled == E18 // 2
            await synced(node, c)
            await soft_cancel(c, api, sell, ALICE)

            async def cancelled_at_half() -> bool:
                got = await meta(api, sell)
                return (got["status"], got["filledMakerAmount"]) == ("cancelled", str(E18 // 2))

            await wait_for(cancelled_at_half)
            polls = PollHold(node)
            polls.armed = True  # (the settlement's block not applied until released)
            try:
                c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(base))
                c.rpc.call("evm_mine")
                assert c.rpc.call("eth_getTransactionReceipt", pooled) is not None
                await wait_for(lambda: node.settler.settled == 1 and node.settler.idle.is_set())
                await wait_for(lambda: not node._results_lock.locked())
                got = await meta(api, sell)
                # before: 0.3, the book's (0) and this match's, under the 0.5 shown
                assert int(got["filledMakerAmount"]) >= E18 // 2, got
            finally:
                polls.release()
        finally:
            c.rpc.call("evm_setAutomine", True)
        await synced(node, c)
        on_chain = c.exchange.order_info(sell.order).filled
        assert on_chain == 8 * E18 // 10

        async def as_the_chain() -> bool:
            got = await meta(api, sell)
            return (got["status"], got["filledMakerAmount"]) == ("cancelled", str(on_chain))

        await wait_for(as_the_chain)
