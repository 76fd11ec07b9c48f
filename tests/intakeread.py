"""Intake's funds read of Carol held across what the chain does meanwhile: the set-up of the
tests of a read the mirror may not trust (funds98_read_across_reorg, review100b_reread_idle).
Real Hardhat, a real node in this process; the hold wraps its batcher's reads
(``node.batcher._read``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sdex.chain import OrderState
from sdex.node import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_mirror import synced
from tests.test_node import CAROL


async def carol_unread(node: Node, c: Chain) -> tuple[str, str]:
    """The node synced and caught up, Carol's WETH account not yet read: that account."""
    carol = (c.address(CAROL), c.weth.address)
    await synced(node, c)
    await wait_for(lambda: node.watcher.caught_up.is_set(), timeout=30)
    assert carol not in node.mirror.funds
    return carol


async def old_branch(node: Node, c: Chain) -> str:
    """A snapshot, then two blocks (the old branch) applied by the node: the snapshot."""
    snap = str(c.rpc.call("evm_snapshot"))
    c.rpc.call("evm_mine")
    c.rpc.call("evm_mine")  # (the old branch: two blocks)
    await synced(node, c)
    return snap


def hold_reads(node: Node) -> tuple[asyncio.Event, asyncio.Event]:
    """Intake's reads served by the chain at once, handed back once ``go`` is set."""
    served, go = asyncio.Event(), asyncio.Event()
    read = node.batcher._read

    async def held(orders: Sequence[SignedOrder]) -> list[OrderState]:
        got = await read(orders)  # (served now: what the chain holds at the time)
        served.set()
        async with asyncio.timeout(60):
            await go.wait()
        return got

    node.batcher._read = held  # type: ignore[method-assign]
    return served, go
