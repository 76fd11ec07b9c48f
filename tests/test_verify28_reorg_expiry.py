"""Issue 11, item 2: a reorg undoes a block's expiry too. An order that a block's timestamp
expired is open again once that block is reorged out and the chain's head is before its
expiry again (the node's clock is the chain's, not only the wall clock). Real Hardhat
(evm_snapshot, evm_increaseTime, evm_revert, mine), a real node, SQLite.

Failed before (verify28): the node kept the order ``expired``: across a reorg its clock kept
the highest timestamp it had seen (``max``), and an order it closed for expiry was not among
the orders a reorg re-judges (the undone blocks' fills and cancels only)."""

from __future__ import annotations

import time
from pathlib import Path

from sdex.chainnode import Engine
from tests.conftest import Chain, chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack44_chain_clock import pending_time
from tests.test_chain_outage import OwnChain
from tests.test_mirror import Events, meta, revert, synced
from tests.test_node import ALICE, E6, E18, ask
from tests.test_reorg_redeployed import status_is


def timestamp(c: Chain) -> int:
    return int(c.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)


async def test_an_order_a_reorged_out_block_expired_is_open_again(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        events = Events(await api.session.ws_connect(api.base + "/v1/ws"))
        try:
            expiry = max(pending_time(c), int(time.time())) + 600  # (the chain's clock's)
            signed = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=expiry))
            assert (await api.post_taken(signed))[0] == 201
            snap = c.rpc.call("evm_snapshot")
            c.rpc.call("evm_increaseTime", 1200)
            c.rpc.call("evm_mine")
            assert timestamp(c) >= expiry
            await synced(node, c)
            assert (await meta(api, signed))["status"] == "expired"

            revert(c, snap)
            c.rpc.call("evm_mine")
            assert timestamp(c) < expiry  # the new branch's head is before the expiry
            await synced(node, c)
            assert node.watcher.reorgs >= 1

            async def reopened() -> bool:
                return (await meta(api, signed))["status"] == "open"

            await wait_for(reopened, timeout=10)
            await wait_for(lambda: events.has("order", "reopened", signed.hash_hex))
        finally:
            await events.close()


async def test_an_order_the_old_chains_time_expired_is_open_after_a_reset(
    tmp_path: Path, engine: Engine
) -> None:
    """The same after a chain reset: a devnet restarted (another genesis) and deployed again,
    its clock back at the wall clock's (failed before: the watcher's clock kept the old
    chain's time while the reset was applied, and every order was judged again by it)."""
    net = OwnChain("reset-expiry", engine)
    try:
        c = chain_of(net.rpc, net.deploy())
        dep = c.deployment
        async with running_node(node_config(c, tmp_path / "n.db", reorg_depth=2)) as (node, api):
            w = node.watcher
            await wait_for(lambda: w.caught_up.is_set())
            expiry = max(pending_time(c), int(time.time())) + 600  # (the chain's clock's)
            signed = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=expiry))
            assert (await api.post_taken(signed))[0] == 201
            c.rpc.call("evm_increaseTime", 1200)
            c.rpc.call("hardhat_mine", hex(8))
            assert timestamp(c) >= expiry
            await wait_for(lambda: status_is(api, signed, "expired"), timeout=20)
            # The expiry is judged from the head's timestamp, which can come before the
            # watcher has applied the mined blocks: wait for them, so that the new chain's
            # head is below what the node applied (under load it lagged: 83 against 83).
            await synced(node, c)

            net.stop()
            net.start_again()
            dep2 = net.deploy()
            assert (dep2.exchange, dep2.deploy_block) == (dep.exchange, dep.deploy_block)
            assert int(net.rpc.call("eth_blockNumber"), 16) < w.applied.number - 2
            await wait_for(lambda: w.resets == 1, timeout=30)
            await wait_for(lambda: status_is(api, signed, "open"), timeout=20)
    finally:
        net.stop()
