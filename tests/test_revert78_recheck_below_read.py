"""revert78: an open order's recheck never takes the mirror's word from below a chain read
the node already applied to it (behind77 guarded only a close by a failed settlement's
diagnosis from being reopened so).

A match settled short (another party's fill of the resting ask was in a block the node had
not applied) has both orders read from the chain (``_read_short``) and looked at again
(``_recheck_settled``). The taker's bid rests with its rest; another party filled part of
that rest in the block after the node's settlement, before the read: the read gave the bid
that fill. Once the watcher applied the node's own block, and not yet the one after it, the
recheck took the mirror's filled amount there, older than the read's, and gave the fill
back: the book offered a rest the chain no longer had (a match of it reverts or settles
short again, the operator paying), until the next block's apply.

Real Hardhat, the node in-process behind a real loopback JSON-RPC proxy that holds the
watcher's log reads from a block on (moved as the test goes), and the node's ``eth_call``
reads after its settlement is sent until the other party's fill of the bid is mined; then
the watcher's backend lags one block (its "latest" answered as the block before: a
balancer's stale backend)."""

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
from tests.test_node import ALICE, BOB, DAVE, E6, E18, ask, bid

SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")


@dataclass
class Proxy:
    url: str = ""
    logs_from: int | None = None
    """``eth_getLogs`` (and its batch) reaching this block wait until it is moved past them."""
    calls_held: bool = False
    """Set by the first send through: ``eth_call`` waits from then until ``calls_go``."""
    calls_go: asyncio.Event = field(default_factory=asyncio.Event)
    moved: asyncio.Condition = field(default_factory=asyncio.Condition)
    latest_cap: int | None = None
    """``eth_getBlockByNumber("latest")`` answered as this block (a backend behind)."""
    logs_held: int = 0
    calls_waiting: int = 0

    async def move(self, logs_from: int | None) -> None:
        async with self.moved:
            self.logs_from = logs_from
            self.moved.notify_all()


@asynccontextmanager
async def proxy_to(upstream: str) -> AsyncIterator[Proxy]:
    proxy = Proxy()

    def holds_logs(calls: Calls) -> bool:
        low = proxy.logs_from
        return low is not None and any(
            c.get("method") == "eth_getLogs" and int(c["params"][0]["toBlock"], 16) >= low
            for c in calls
        )

    async def before(msg: Any, calls: Calls) -> Any:
        methods = {c.get("method") for c in calls}
        if holds_logs(calls):
            proxy.logs_held += 1
            async with proxy.moved:
                await proxy.moved.wait_for(lambda: not holds_logs(calls))
        if "eth_call" in methods and proxy.calls_held and not proxy.calls_go.is_set():
            proxy.calls_waiting += 1
            await proxy.calls_go.wait()
            proxy.calls_waiting -= 1
        cap = proxy.latest_cap
        if cap is not None and "eth_getBlockByNumber" in methods:
            for c in calls:
                if c.get("method") == "eth_getBlockByNumber" and c["params"][0] == "latest":
                    c["params"][0] = hex(cap)
            return msg
        return None

    def after(calls: Calls) -> None:
        if any(c.get("method") in SENDS for c in calls):
            proxy.calls_held = True

    try:
        async with passing_posts(upstream, before, after) as proxy.url:
            yield proxy
    finally:
        proxy.calls_go.set()
        await proxy.move(None)


async def test_a_recheck_does_not_give_back_a_fill_a_newer_read_applied(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, E18 // 2, 500 * E6))  # 0.5 WETH at 1000
    taker = c.sign(bid(c, BOB, E18 * 4 // 10, 400 * E6))  # 0.4 WETH at 1000: rests its rest
    async with proxy_to(c.rpc.url) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
        async with running_node(cfg) as (node, api):
            assert (await api.post_order(resting))[0] == 201
            await synced(node, c)
            n = int(c.rpc.call("eth_blockNumber"), 16) + 1
            await proxy.move(n)  # the watcher stays below block N
            c.exchange.fill_order(c.sender(DAVE), resting, 300 * E6)  # N: 0.3 WETH of the ask
            code, body = await api.post_order(taker)
            assert code == 201 and body["matches"], body  # 0.4 against the book's 0.5
            # signed once the hold on block N passes its bound; mined short in block S:
            # the ask's last 0.2 WETH, the bid filled 200 USDC, its rest 200 USDC
            await wait_for(lambda: node.settler.settled >= 1, timeout=60)
            s = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: proxy.calls_waiting > 0, timeout=30)  # the short's read
            assert node.book.get(taker.hash) is not None
            # block S + 1: another party takes 0.1 WETH of the bid's rest (100 USDC)
            c.exchange.fill_order(c.sender(DAVE), taker, E18 // 10)
            proxy.calls_go.set()  # the read at S + 1: the bid filled 300 USDC

            def read_in() -> bool:
                st = node.book.get(taker.hash)
                return st is not None and st.filled == 300 * E6

            await wait_for(read_in, timeout=30)
            proxy.latest_cap = s  # the watcher's backend at S: it applies N..S, not S + 1
            await proxy.move(None)

            # (applied: the node's own block no longer ahead, the recheck run with it)
            await wait_for(lambda: node.watcher.unapplied.applied >= s, timeout=30)
            head = node.mirror.head
            assert head is not None and head.number == s  # (below S + 1 still)
            st = node.book.get(taker.hash)
            # before: 200 USDC (the mirror's word at S), its rest 200 offered, the chain 100
            assert st is not None and st.filled == 300 * E6, ("at S", st)
            proxy.latest_cap = None
            await synced(node, c)
            st = node.book.get(taker.hash)
            assert st is not None and st.filled == 300 * E6, st
    info = c.exchange.order_info(taker.order)
    assert info.filled == 300 * E6
