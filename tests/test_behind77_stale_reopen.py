"""behind77: an order a failed settlement's diagnosis closed by the chain's word (read at the
chain's latest block) is not reopened by the mirror's older word while the watcher has not
applied the block that closed it.

Found by ``bench/chaos52.py --seeds 25`` with every fault mix, run again
(``/tmp/chaos52-25-r9zxo12o``, node 1): an ask posted to the node crossed a resting bid, and
its maker cancelled it on chain 10 ms later (block 85). The node signed the pair, reverted in
block 86 ``OrderNotFillable`` (cancelled); 15 ms after that failure was handled the same pair
was signed again and reverted in block 89; the watcher (waiting for an own receipt) applied
block 85 only after. The diagnosis had read the ask cancelled and closed it ("settlement
failed: cancelled", a recheck due); the recheck judged it by the mirror, one block below the
cancel, took its "fillable" for a reorg's undoing and reopened the ask (no log line: the
websocket's ``reopened``), and the uncross matched the pair again: paid twice.

Real Hardhat, the node in-process behind a real loopback JSON-RPC proxy that holds the
watcher's log reads of the cancel's block (and the settlement's send until the cancel is
mined: the order of seed 25's blocks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdex.model import OrderStatus
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.sends31proxy import Calls, passing_posts
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")


@dataclass
class HoldingProxy:
    url: str = ""
    logs_from: int | None = None
    """``eth_getLogs`` (and the batch it is in) reaching this block wait for ``logs_go``."""
    logs_go: asyncio.Event = field(default_factory=asyncio.Event)
    sends_go: asyncio.Event = field(default_factory=asyncio.Event)
    """Sends wait for this (set: they pass)."""
    sends_held: int = 0
    logs_held: int = 0


@asynccontextmanager
async def holding_proxy(upstream: str) -> AsyncIterator[HoldingProxy]:
    proxy = HoldingProxy()
    proxy.sends_go.set()

    async def before(_msg: Any, calls: Calls) -> None:
        methods = {c.get("method") for c in calls}
        if methods & set(SENDS) and not proxy.sends_go.is_set():
            proxy.sends_held += 1
            await proxy.sends_go.wait()
        low = proxy.logs_from
        if low is not None and any(
            c.get("method") == "eth_getLogs" and int(c["params"][0]["toBlock"], 16) >= low
            for c in calls
        ):
            proxy.logs_held += 1
            await proxy.logs_go.wait()

    try:
        async with passing_posts(upstream, before) as proxy.url:
            yield proxy
    finally:
        proxy.sends_go.set()
        proxy.logs_go.set()


async def test_a_diagnosis_close_is_not_reopened_by_a_mirror_below_it(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    resting = c.sign(bid(c, BOB, E18 // 10, 300 * E6), BOB)
    crossing = c.sign(ask(c, ALICE, E18 // 10, 290 * E6), ALICE)
    async with holding_proxy(c.rpc.url) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
        async with running_node(cfg) as (node, api):
            assert (await api.post_order(resting))[0] == 201
            await synced(node, c)
            proxy.sends_go.clear()
            proxy.logs_from = int(c.rpc.call("eth_blockNumber"), 16) + 1  # (the cancel's)
            assert (await api.post_order(crossing))[0] == 201  # matched: its send held
            await wait_for(lambda: proxy.sends_held > 0, timeout=20)
            c.exchange.cancel_order(c.sender(ALICE), crossing.order)  # block N
            await wait_for(lambda: proxy.logs_held > 0, timeout=20)  # (the watcher below N)
            proxy.sends_go.set()  # mined in N + 1, reverted: cancelled

            def diagnosed() -> bool:
                return node.settler.failed >= 1 and not node._holds

            await wait_for(diagnosed, timeout=30)
            await wait_for(lambda: not node._results_lock.locked(), timeout=30)
            head = node.mirror.head
            assert head is not None and head.number < proxy.logs_from  # (still below N)
            rec = node.records[crossing.hash]
            # before: reopened by the mirror's word at N - 1 ("fillable"), matched again
            assert rec.status is OrderStatus.CANCELLED, (rec.status, rec.reason)
            assert crossing.hash not in node.book
            proxy.logs_go.set()
            await synced(node, c)
            assert node.records[crossing.hash].status is OrderStatus.CANCELLED
            assert node.settler.sent == 1  # (the one that reverted: no second signature)
