"""A chain replaced while the node was down, behind an endpoint that still serves the old
chain's deployment block by hash (geth keeps a replaced branch's blocks; a backend of the
endpoint still on the old chain): review73's check at the start (``Node._deploy_hash``)
took that block, found by hash, for the chain's, and bound the store to it, no reset made
at the start (its first poll found it). Now the block above it by number must name it as
its parent. Two real chains deployed alike (resend67's pair), a loopback proxy, a real
node."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chainnode import Engine
from tests.nodeutil import node_config, running_node
from tests.rpcfault import side_block_proxy
from tests.test_mirror import synced
from tests.test_node import ALICE, E6, E18, ask
from tests.test_resend67_replaced_chain import replacing
from tests.test_reset70_restart_replaced import walked


async def test_a_replaced_chain_serving_the_old_deployment_block_by_hash_is_reset_at_start(
    tmp_path: Path, engine: Engine
) -> None:
    old, new, c, c2 = replacing(engine)
    try:
        cfg = node_config(c, tmp_path / "n.db")
        resting = c.sign(ask(c, ALICE, E18, 3100 * E6))
        async with running_node(cfg) as (node, api):
            assert (await api.post_order(resting))[0] == 201
        at = hex(cfg.deploy_block)
        gone = old.rpc.call("eth_getBlockByNumber", at, False)
        deployed = c2.rpc.call("eth_getBlockByNumber", at, False)["hash"].lower()
        with side_block_proxy(new.node.url, gone) as url:
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                assert node.watcher.identity.deploy_block_hash.lower() == deployed  # (the old)
                await walked(node)
                await synced(node, c2)
                assert node.watcher.resets == 0  # (the reset made at the start: was at a poll)
                assert await api.status(resting) == "open"
    finally:
        old.stop()
        new.stop()
