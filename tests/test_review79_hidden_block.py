"""review79: a block the node never saw on its own, under one of its settlement's alone,
holds signing as every known block does.

revert78 holds signing while a block the watcher knows of is not applied, except a block of
the node's own settlement in flight alone (``NodeHolds._own_in_flight``). ``Unapplied``
knew the numbers announced or polled, not those between: a node that polls (no newHeads,
or a missed announcement) and first hears of the chain at block N+1, its own settlement
alone, knew nothing of block N below it, a maker's on-chain cancel of an ask in its book.
Nothing held signing: a match of the cancelled ask was signed and sent before the watcher
applied N, and reverted, the operator paying. Now every block up to the one heard of is
known (its time the one it was heard of at): N holds signing till applied.

Real Hardhat (automine: each transaction its block), the node in-process behind a real
loopback JSON-RPC proxy that answers reads of the latest block with the block before N
(so the watcher first hears of the chain at N+1) and holds the settler's receipt reads
(its settlement stays in flight) and the watcher's log reads (N stays unapplied while the
crossing order is posted)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sdex.watch.unapplied import KEPT, Unapplied
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.sends31proxy import serving_posts
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid

HELD = {
    "receipts": lambda c: c.get("method") in ("eth_getTransactionReceipt", "eth_getBlockReceipts"),
    "logs": lambda c: c.get("method") == "eth_getLogs",
}
"""What the proxy can hold, by name: whether a call is of it."""


@dataclass
class Proxy:
    url: str = ""
    go: dict[str, asyncio.Event] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    pinned: str = ""
    """While set, the block (hex) every read of the latest block's header is answered with
    (a chain that seems to stand still: the watcher hears of nothing new)."""

    def hold(self, what: str) -> None:
        self.go[what].clear()

    def free(self, what: str) -> None:
        self.go[what].set()


@asynccontextmanager
async def holding_proxy(upstream: str) -> AsyncIterator[Proxy]:
    proxy = Proxy(go={k: asyncio.Event() for k in HELD}, held=dict.fromkeys(HELD, 0))
    for e in proxy.go.values():
        e.set()
    session = aiohttp.ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        msg: Any = json.loads(body)
        calls = [c for c in (msg if isinstance(msg, list) else [msg]) if isinstance(c, dict)]
        if proxy.pinned and any(latest_header(c) for c in calls):
            proxy.held["latest"] = proxy.held.get("latest", 0) + 1
            for c in calls:
                if latest_header(c):
                    c["params"] = [proxy.pinned, *c["params"][1:]]
            body = json.dumps(msg).encode()
        for what, of in HELD.items():
            if any(of(c) for c in calls) and not proxy.go[what].is_set():
                proxy.held[what] += 1
                await proxy.go[what].wait()
        headers = {"Content-Type": "application/json"}
        async with session.post(upstream, data=body, headers=headers) as r:
            answer = await r.read()
        return web.Response(body=answer, content_type="application/json")

    try:
        async with serving_posts(handle) as proxy.url:
            yield proxy
    finally:
        for e in proxy.go.values():
            e.set()
        await session.close()


def latest_header(call: dict[str, Any]) -> bool:
    params = call.get("params")
    return call.get("method") == "eth_getBlockByNumber" and bool(params) and params[0] == "latest"


def block_number(c: Chain) -> int:
    return int(c.rpc.call("eth_blockNumber"), 16)


async def test_a_block_under_our_own_heard_of_first_holds_signing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    price = 100 + block_number(c) % 50  # (fresh orders each run: the shared chain keeps them)
    ours = (
        c.sign(ask(c, ALICE, E18 // 10, price * E6)),
        c.sign(bid(c, BOB, E18 // 10, price * E6)),
    )
    doomed = c.sign(ask(c, CAROL, E18 // 10, 3 * price * E6))  # (cancelled on chain in N)
    crossing = c.sign(bid(c, DAVE, E18 // 10, 3 * price * E6))
    operator = c.address(18)
    async with holding_proxy(c.rpc.url) as proxy:
        cfg = node_config(c, tmp_path / "n.db", operator=18, rpc=proxy.url, new_heads=False)
        async with running_node(cfg) as (node, api):
            for so in (ours[0], doomed):
                assert (await api.post_order(so))[0] == 201
            await synced(node, c)
            proxy.pinned = hex(block_number(c))  # (the watcher hears of nothing new...)
            await wait_for(lambda: proxy.held.get("latest", 0) > 0, timeout=30)
            c.exchange.cancel_order(c.sender(CAROL), doomed.order)  # (block N)
            n = block_number(c)
            proxy.hold("receipts")  # (our settlement stays in flight)
            sent = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            code, body = await api.post_order(ours[1])
            assert code == 201 and body["matches"], body

            def mined() -> bool:  # (block N + 1: our settlement alone)
                count = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
                return count > sent

            await wait_for(mined, timeout=30)
            assert block_number(c) == n + 1
            proxy.hold("logs")  # (...then of N + 1 at once, and cannot apply N yet)
            proxy.pinned = ""
            await wait_for(lambda: node.watcher.chain_head == n + 1, timeout=30)
            code, body = await api.post_order(crossing)
            assert code == 201 and body["matches"], body  # (the book has not seen N)

            def signed() -> bool:  # (before: signed and sent at once)
                return node.settler.sent >= 2 or node.watcher.unapplied.holds > 0

            await wait_for(signed, timeout=30)
            holds = node.watcher.unapplied.to_json()
            proxy.free("logs")
            proxy.free("receipts")

            def applied() -> bool:  # (N and N + 1; a later block: a match sent meanwhile)
                return node.watcher.applied is not None and node.watcher.applied.number > n

            await wait_for(applied, timeout=30)

            async def settled_down() -> bool:
                return (await api.status(crossing)) == "open" and (
                    await api.status(doomed)
                ) == "cancelled"

            await wait_for(settled_down, timeout=30)
            after = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            # before: the crossing's match sent against the cancelled ask, reverted
            assert after - sent == 1, (after - sent, holds, node.settler.sent)
            assert holds["holds"] >= 1, holds
    assert c.exchange.order_info(ours[0].order).filled == ours[0].order.maker_amount


@pytest.mark.parametrize(
    ("steps", "known"),
    [
        ([(12, True)], [11, 12]),  # (polled at 12, applied 10: 11 is there too)
        ([(11, False), (13, False)], [11, 12, 13]),  # (an announcement missed: 12)
        ([(13, True), (12, True)], [11, 12]),  # (the chain went back: 13 dropped)
        ([(10, True)], []),  # (applied already)
        ([(KEPT + 15, True)], [11, *range(17, KEPT + 16)]),  # (the lowest kept, the top)
    ],
)
def test_every_block_below_one_heard_of_is_known(
    steps: list[tuple[int, bool]], known: list[int]
) -> None:
    u = Unapplied()
    u.caught_up(10)
    for number, polled in steps:
        u.saw(number, polled)
    assert [n for n, _ in u.known] == known
    assert len(u.known) <= KEPT
    assert u.holding() is bool(known)


def test_a_start_knows_the_block_it_hears_of_first() -> None:
    """Nothing applied yet (a start, its saved head not passed yet): the first block heard
    of is the oldest known, not block 0 (``/health``'s ``oldestUnapplied``)."""
    u = Unapplied()
    u.saw(500, polled=True)
    u.saw(502)
    assert [n for n, _ in u.known] == [500, 501, 502]
    assert u.to_json()["oldestUnapplied"] == 500
