"""Carol resting on both sides at exact funds before a snapshot, and the watcher's funds
reads held once armed: the set-up of the tests of an own settlement across a reorg
(review98a_reorg_own_moves, funds98_reorg_taken). Real Hardhat, a real node in this
process; the hold wraps its watcher's batch reads (``node.watch_rpc.batch``)."""

from __future__ import annotations

import asyncio
from typing import Any

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import Api
from tests.test_mirror import synced
from tests.test_node import CAROL, DAVE, E6, E18, ask, bid
from tests.test_settle98_funds_reread import head
from tests.test_settlement_pipeline import post_all


async def carol_both_sides(
    c: Chain, node: Node, api: Api
) -> tuple[tuple[str, str], tuple[str, str], str, int]:
    """Carol sells WETH and (far below) buys it: the book holds her USDC too; a block
    touches both her accounts (read at it, exact). Her WETH and USDC accounts, then a
    snapshot and the head at it."""
    carol = c.address(CAROL)
    paid, got = (carol, c.weth.address), (carol, c.usdc.address)
    await post_all(api, [c.sign(ask(c, CAROL, 2 * E18, 6000 * E6))])
    await post_all(api, [c.sign(bid(c, CAROL, E18, 1000 * E6))])
    for token in (c.weth, c.usdc):  # (a block touches them: read at it, exact)
        token.transfer(c.sender(DAVE), carol, 1)
    await synced(node, c)
    assert paid not in node.mirror.unsure and got not in node.mirror.unsure
    return paid, got, str(c.rpc.call("evm_snapshot")), head(c)


def held_funds_reads(node: Node) -> tuple[asyncio.Event, asyncio.Event, asyncio.Event]:
    """``node``'s watcher funds reads (its batches with an ``eth_call``) held from the first
    event set till the second is (90 s at most); the third set at the first one held."""
    reads, go_reads, reading = asyncio.Event(), asyncio.Event(), asyncio.Event()
    wbatch = node.watch_rpc.batch

    async def held_reads(calls: list[tuple[str, list[Any]]], **kw: Any) -> list[Any]:
        if reads.is_set() and any(m == "eth_call" for m, _ in calls):  # (a funds read)
            reading.set()
            async with asyncio.timeout(90):
                await go_reads.wait()
        return await wbatch(calls, **kw)

    node.watch_rpc.batch = held_reads  # type: ignore[method-assign]
    return reads, go_reads, reading
