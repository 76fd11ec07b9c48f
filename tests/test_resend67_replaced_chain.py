"""resend67: a sync send (``eth_sendRawTransactionSync``) that times out, on a chain that does
not know the transaction, is sent again (a slow endpoint that does not serve the method). If
the chain behind the URL was replaced meanwhile (a devnet restarted behind a proxy: a new
chain, the same chain id, the Exchange at the same address), the old chain's settlement
landed on the new one, its orders filled there (the operator paying), where the node's view
(the reset the watcher sees) re-judges them. Real chains of the suite's engine (the old
one, and the one that replaces it, deployed alike), a real loopback proxy in front (the URL
the node has) that answers the sync send slowly and switches to the new chain while it
holds it, a real node and SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.chainnode import Engine
from tests.conftest import chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.sends31proxy import serving_posts
from tests.test_chain_outage import OwnChain
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg60_reset_inflight import nonce

HOLD = 60.0
"""Seconds the proxy holds the sync send's answer at most (the node's wait is 0.5 s)."""


@dataclass
class SwitchingProxy:
    """Forwards to ``upstream``; the first sync send goes to it as a plain send, then the
    upstream becomes ``then`` (the chain replaced) and the answer waits (a slow endpoint)."""

    upstream: str
    then: str
    url: str = ""
    sent: list[str] = field(default_factory=list)
    """The hash the old chain gave the held send."""
    release: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def switching_proxy(upstream: str, then: str) -> AsyncIterator[SwitchingProxy]:
    proxy = SwitchingProxy(upstream, then)
    session = aiohttp.ClientSession()

    async def forward(msg: Any) -> bytes:
        async with session.post(proxy.upstream, json=msg) as r:
            return await r.read()

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        sync = isinstance(msg, dict) and msg.get("method") == "eth_sendRawTransactionSync"
        if sync and not proxy.sent:
            answer = json.loads(await forward(dict(msg, method="eth_sendRawTransaction")))
            proxy.sent.append(answer["result"])
            proxy.upstream = proxy.then  # the chain behind the URL replaced
            await asyncio.wait_for(proxy.release.wait(), HOLD)
            return web.json_response(answer)
        return web.Response(body=await forward(msg), content_type="application/json")

    try:
        async with serving_posts(handle) as proxy.url:
            try:
                yield proxy
            finally:
                proxy.release.set()  # (the held answer ends before the server stops)
    finally:
        await session.close()


async def test_a_timed_out_sync_send_is_not_sent_again_to_the_chain_that_replaced_it(
    tmp_path: Path, engine: Engine
) -> None:
    old = OwnChain("resend67-old", engine)
    new: OwnChain | None = None
    try:
        c = chain_of(old.rpc, old.deploy())
        new = OwnChain("resend67-new", engine)  # (started later: another genesis time)
        dep2 = new.deploy()
        assert dep2.exchange == c.deployment.exchange and dep2.chain_id == c.deployment.chain_id
        block = hex(c.deployment.deploy_block)
        b1 = old.rpc.call("eth_getBlockByNumber", block, False)["hash"]
        assert new.rpc.call("eth_getBlockByNumber", block, False)["hash"] != b1  # (another)
        c2 = chain_of(new.rpc, dep2)
        operator = c.address(19)
        deployed = nonce(new.rpc, operator)
        async with switching_proxy(old.node.url, new.node.url) as proxy:
            cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
            async with running_node(cfg) as (node, api):
                w = node.watcher
                resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
                assert (await api.post_order(resting))[0] == 201
                taker = c.sign(bid(c, BOB, E18, 3000 * E6))
                code, body = await api.post_order(taker, "ioc")
                assert code == 201 and len(body["matches"]) == 1, body
                await wait_for(lambda: len(proxy.sent) == 1)
                assert deployed == nonce(old.rpc, operator) - 1  # (the old chain has it)
                await wait_for(lambda: w.resets >= 1, timeout=60)
                await wait_for(lambda: node.settler.idle.is_set(), timeout=60)
                for _ in range(3):  # a block or two of the new chain's
                    new.rpc.call("evm_mine")
                    head = int(new.rpc.call("eth_blockNumber"), 16)
                    await wait_for(lambda h=head: w.chain_head >= h, timeout=30)  # type: ignore[misc]
                await wait_for(lambda: node.settler.idle.is_set(), timeout=60)
                tx = proxy.sent[0]
                assert new.rpc.call("eth_getTransactionByHash", tx) is None  # never sent there
                assert nonce(new.rpc, operator, "pending") == deployed
                assert c2.exchange.order_info(resting.order).filled == 0
                assert c2.exchange.order_info(taker.order).filled == 0
                assert await api.status(resting) == "open"
    finally:
        old.stop()
        if new is not None:
            new.stop()
