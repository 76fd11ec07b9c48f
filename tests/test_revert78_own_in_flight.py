"""revert78: a block that holds one of the node's settlements in flight alone holds no
signature back, its receipt not here yet (the hold on known, unapplied blocks, now without
behind77's 0.1 s grace, waited for every such receipt).

Measured by ``bench/node.py --phases latency load`` (one node, 100 crossings a second, no
other party on the chain): 9-30 holds a round, up to 2.5 s one, each an automine block of
the node's own settlement known before its receipt came. Its matches are in flight in the
book already: nothing signed next counts on what they take.

Real Hardhat, the node in-process behind a real loopback JSON-RPC proxy that holds the
settler's receipt reads (the watcher waits for that receipt too, up to 2 s)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.sends31proxy import Calls, passing_posts
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid


@dataclass
class Proxy:
    url: str = ""
    receipts_go: asyncio.Event = field(default_factory=asyncio.Event)
    receipts_held: int = 0


@asynccontextmanager
async def receipts_held(upstream: str) -> AsyncIterator[Proxy]:
    proxy = Proxy()
    proxy.receipts_go.set()

    async def before(_msg: Any, calls: Calls) -> None:
        receipt = any(c.get("method") == "eth_getTransactionReceipt" for c in calls)
        if receipt and not proxy.receipts_go.is_set():
            proxy.receipts_held += 1
            await proxy.receipts_go.wait()

    try:
        async with passing_posts(upstream, before) as proxy.url:
            yield proxy
    finally:
        proxy.receipts_go.set()


async def test_a_block_of_our_settlement_in_flight_alone_holds_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    first = (c.sign(ask(c, ALICE, E18 // 10, 100 * E6)), c.sign(bid(c, BOB, E18 // 10, 100 * E6)))
    second = (
        c.sign(ask(c, CAROL, E18 // 10, 200 * E6, taker=c.address(DAVE))),
        c.sign(bid(c, DAVE, E18 // 10, 200 * E6, taker=c.address(CAROL))),
    )
    async with receipts_held(c.rpc.url) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
        async with running_node(cfg) as (node, api):
            for so in (first[0], second[0]):
                assert (await api.post_order(so))[0] == 201
            await synced(node, c)
            top = int(c.rpc.call("eth_blockNumber"), 16)
            proxy.receipts_go.clear()
            code, body = await api.post_order(first[1])
            assert code == 201 and body["matches"], body

            def mined() -> bool:  # (automine: its block, our settlement alone)
                return int(c.rpc.call("eth_blockNumber"), 16) > top

            await wait_for(mined, timeout=30)
            await wait_for(lambda: node.watcher.chain_head > top, timeout=30)  # (known)
            code, body = await api.post_order(second[1])
            assert code == 201 and body["matches"], body
            await wait_for(lambda: node.settler.sent >= 2, timeout=30)
            # before: held behind the first's block (1 hold, till the watcher read it: 2 s)
            assert node.watcher.unapplied.holds == 0, node.watcher.unapplied.to_json()
            proxy.receipts_go.set()
            await wait_for(lambda: node.settler.settled >= 2, timeout=30)
            await synced(node, c)
    for so in (*first, *second):
        assert c.exchange.order_info(so.order).filled == so.order.maker_amount
