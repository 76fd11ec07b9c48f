"""reorg60: a fill the node stored durably (its own settlement's, from the receipt) whose
block a reorg drops while the node is down (a restart in the reorg window): the watcher held
before the settlement's block when the node stopped, or past it. Restarted, the node's store
and its orders must be the chain's: the dropped fill gone (or the same transaction mined
again, at the chain's block), the orders as the chain has them. Real Hardhat
(``evm_snapshot``/``evm_revert``), a real node and SQLite store, stopped and started."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_mirror_ahead import follows
from tests.test_mirror_lag import settled_past_the_watcher
from tests.test_reorg_false_fills import forget_nonces, on_chain, stored


@pytest.mark.parametrize("applied", [False, True], ids=["held-before", "applied"])
async def test_a_fill_whose_block_is_reorged_out_while_the_node_is_down_is_gone(
    chain: Chain, tmp_path: Path, applied: bool
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        hold, snap, resting, taker = await settled_past_the_watcher(c, node, api)
        orders = [resting, taker]
        first = stored(node, orders)
        assert first == on_chain(c, orders) and len(first) == 2
        if applied:
            hold.release()
            settled_at = max(b for _, _, b in first)
            await wait_for(lambda: node.watcher.chain_head >= settled_at, timeout=20)
            await synced(node, c)
    # the node is down: the settlement's block is reorged out, two others mined
    assert c.rpc.call("evm_revert", snap) is True
    forget_nonces(c)
    c.rpc.call("evm_mine")
    c.rpc.call("evm_mine")
    async with running_node(cfg) as (node, api):
        # (no ``synced``: the orders, open again, may cross and settle anew, moving the head)
        await wait_for(lambda: follows(api, node, c, orders), timeout=30)
        await wait_for(lambda: stored(node, orders) == on_chain(c, orders), timeout=20)
        gone = set(first) - set(on_chain(c, orders))
        assert not gone & set(stored(node, orders))
