"""review98b: spilled rechecks read back (``Rechecks._refilled``, store97) waited in memory
for the next block or settlement to be judged (``_refilled`` began no pass: an idle chain's
sat there, the rest of the spilled ones with them). Now the read back begins a pass
(``NodeRejudge._rechecks_read_back``). Here with the bound lowered to 4, ten hashes due
that are no order (judged: no record, taken off): with no block mined, every one is judged
and the table emptied.

Real Hardhat, a real node in this process on its SQLite store."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for


def drain_runs(node: Node) -> bool:
    return node._draining is not None and not node._draining.done()


async def test_read_back_rechecks_are_judged_with_no_block(chain: Chain, tmp_path: Path) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node))
        due = node._recheck  # (the start's passes ended: none judges the adds below)
        due.kept = 4  # (the bound, lowered: RECHECKS_KEPT)
        hashes = [os.urandom(32) for _ in range(10)]
        for h in hashes:
            due.add(h)
            await asyncio.gather(*due.writes())
        assert due.spilled == 6
        top = int(chain.rpc.call("eth_blockNumber"), 16)
        for h in list(due):  # (the held ones judged: fewer than half held)
            due.discard(h)
        due.flush()

        async def emptied() -> bool:
            return not len(due) and not due.spilled and not await node.store.rechecks()

        await wait_for(emptied, 30)  # (before: the first read back's sat, unjudged)
        assert int(chain.rpc.call("eth_blockNumber"), 16) == top  # (no block came)
