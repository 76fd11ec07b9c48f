"""funds98: a funds read the chain served on a branch a reorg then undid is not kept by the
mirror as the new branch's: the account is read again with the next block.

Intake reads an unknown maker's funds at "latest" (``getOrderStates``) and the mirror learns
them unless a block applied since the read began touched the account (``Mirror.learn``,
``touched_since``: blocks above the head the read began at). A read served on the old branch
and answered after a reorg's poll applied the new branch saw none of the new branch's blocks
up to that height: Carol's WETH sent away there was not in it, no block above it touched her,
and the mirror (and the book) kept her old branch's 1000 WETH till a block touched her.

Real Hardhat (``evm_snapshot`` / ``evm_revert``); a real node in this process, the intake's
read answered by the chain at once and handed back after the reorg is applied."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import Chain
from tests.intakeread import carol_unread, hold_reads, old_branch
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import revert, synced
from tests.test_node import CAROL, DAVE, E6, E18, ask
from tests.test_settle98_funds_reread import spendable


async def test_a_read_served_on_the_undone_branch_is_not_learned(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        carol = await carol_unread(node, c)
        snap = await old_branch(node, c)
        served, go = hold_reads(node)  # (served now: the old branch's)
        posted = asyncio.ensure_future(api.post_order(c.sign(ask(c, CAROL, 2 * E18, 6000 * E6))))
        try:
            await wait_for(served.is_set, timeout=30)
            revert(c, snap)
            c.weth.transfer(c.sender(CAROL), c.address(DAVE), 500 * E18)  # (new branch)
            c.rpc.call("evm_mine")
            c.rpc.call("evm_mine")  # (longer: the old head + 1)
            await synced(node, c)
            assert node.watcher.reorgs == 1
        finally:
            go.set()
        code, body = await posted
        assert code == 201, body
        # read again with the next block (nothing of hers in it): the new branch's figure
        c.rpc.call("evm_mine")
        await synced(node, c)
        await wait_for(lambda: node.mirror.spendable(carol) == spendable(c, carol), timeout=30)
        assert spendable(c, carol) == 500 * E18  # (was her 1000 WETH: kept for good)
        assert node.book.funds(*carol) == spendable(c, carol)
