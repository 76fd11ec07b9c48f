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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.chainnode import Engine
from sdex.node.core import Node
from tests.conftest import Chain, chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.sends31proxy import serving_posts
from tests.test_chain_outage import OwnChain
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg60_reset_inflight import nonce
from tests.test_reorg63_replaced_restart import OPERATOR, stored_pair

HOLD = 60.0
"""Seconds the proxy holds the sync send's answer at most (the node's wait is 0.5 s)."""


@dataclass
class SwitchingProxy:
    """Forwards to ``upstream`` until a request ``when`` picks: then the upstream becomes
    ``then`` (the chain behind the URL replaced) and that request goes there; a sync send
    picked goes to the old chain as a plain send first, its answer held (a slow endpoint)."""

    upstream: str
    then: str
    when: Callable[[dict[str, Any]], bool]
    url: str = ""
    sent: list[str] = field(default_factory=list)
    """The hash the old chain gave the held send."""
    switched: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def switching_proxy(
    upstream: str, then: str, when: Callable[[dict[str, Any]], bool]
) -> AsyncIterator[SwitchingProxy]:
    proxy = SwitchingProxy(upstream, then, when)
    session = aiohttp.ClientSession()

    async def forward(msg: Any) -> bytes:
        async with session.post(proxy.upstream, json=msg) as r:
            return await r.read()

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        if not proxy.switched and isinstance(msg, dict) and proxy.when(msg):
            proxy.switched = True
            if msg.get("method") == "eth_sendRawTransactionSync":
                answer = json.loads(await forward(dict(msg, method="eth_sendRawTransaction")))
                proxy.sent.append(answer["result"])
                proxy.upstream = proxy.then
                await asyncio.wait_for(proxy.release.wait(), HOLD)
                return web.json_response(answer)
            proxy.upstream = proxy.then
        return web.Response(body=await forward(msg), content_type="application/json")

    async with held_served(handle, proxy.release, session) as proxy.url:
        yield proxy


@asynccontextmanager
async def held_served(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
    release: asyncio.Event,
    session: aiohttp.ClientSession,
) -> AsyncIterator[str]:
    """``handle`` served on loopback (its URL); ``release`` set before the server stops (a
    held answer ends first), ``session`` (its forwarding client) closed after."""
    try:
        async with serving_posts(handle) as url:
            try:
                yield url
            finally:
                release.set()
    finally:
        await session.close()


def replacing(engine: Engine) -> tuple[OwnChain, OwnChain, Chain, Chain]:
    """Two chains of ``engine`` deployed alike (the same chain id, the same addresses),
    the second's blocks a minute later (other hashes): (old, new, a view of each)."""
    old = OwnChain("resend67-old", engine)
    try:
        c = chain_of(old.rpc, old.deploy())
        new = OwnChain("resend67-new", engine)
    except BaseException:
        old.stop()
        raise
    try:
        block = hex(c.deployment.deploy_block)
        b1 = old.rpc.call("eth_getBlockByNumber", block, False)
        # (started in the same second, its blocks could be the old one's: another time)
        new.rpc.call("evm_setNextBlockTimestamp", int(b1["timestamp"], 16) + 60)
        dep2 = new.deploy()
        assert dep2.exchange == c.deployment.exchange and dep2.chain_id == c.deployment.chain_id
        assert dep2.deploy_block == c.deployment.deploy_block
        b1 = b1["hash"]
        assert new.rpc.call("eth_getBlockByNumber", block, False)["hash"] != b1  # (another)
    except BaseException:
        old.stop()
        new.stop()
        raise
    return old, new, c, chain_of(new.rpc, dep2)


async def new_chain_mined(new: OwnChain, node: Node, resets: int = 1) -> None:
    """The node's watcher past ``resets`` resets and a few blocks of the new chain's, its
    settler idle."""
    w = node.watcher
    await wait_for(lambda: w.resets >= resets, timeout=60)
    await wait_for(lambda: node.settler.idle.is_set(), timeout=60)
    for _ in range(3):
        new.rpc.call("evm_mine")
        head = int(new.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda h=head: w.chain_head >= h, timeout=30)  # type: ignore[misc]
    await wait_for(lambda: node.settler.idle.is_set(), timeout=60)


async def test_a_timed_out_sync_send_is_not_sent_again_to_the_chain_that_replaced_it(
    tmp_path: Path, engine: Engine
) -> None:
    old, new, c, c2 = replacing(engine)
    try:
        operator = c.address(19)
        deployed = nonce(new.rpc, operator)

        def sync(msg: dict[str, Any]) -> bool:
            return msg.get("method") == "eth_sendRawTransactionSync"

        async with switching_proxy(old.node.url, new.node.url, sync) as proxy:
            cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
            async with running_node(cfg) as (node, api):
                resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
                assert (await api.post_order(resting))[0] == 201
                taker = c.sign(bid(c, BOB, E18, 3000 * E6))
                code, body = await api.post_order(taker, "ioc")
                assert code == 201 and len(body["matches"]) == 1, body
                await wait_for(lambda: len(proxy.sent) == 1)
                assert deployed == nonce(old.rpc, operator) - 1  # (the old chain has it)
                await new_chain_mined(new, node)
                tx = proxy.sent[0]
                assert new.rpc.call("eth_getTransactionByHash", tx) is None  # never sent there
                assert nonce(new.rpc, operator, "pending") == deployed
                assert c2.exchange.order_info(resting.order).filled == 0
                assert c2.exchange.order_info(taker.order).filled == 0
                assert await api.status(resting) == "open"
    finally:
        old.stop()
        new.stop()


async def test_a_restart_does_not_send_a_pending_row_to_the_chain_that_replaced_it(
    tmp_path: Path, engine: Engine
) -> None:
    """The chain behind the URL replaced after the start bound the store to the old one,
    before the pending settlement's row is sent again (``sdex.settlement.reconcile``)."""
    old, new, c, _ = replacing(engine)
    try:
        cfg, store, resting, incoming, data = stored_pair(c, tmp_path)
        first = c.sender(OPERATOR).sign(
            c.exchange.address, data, 400_000, fees=(7 * 10**9, 3 * 10**9)
        )  # (not the lane's)
        pairs = [(resting.hash_hex, incoming.hash_hex)]
        await asyncio.wrap_future(
            store.add_settlement(first.tx_hash, first.nonce, first.raw, pairs)
        )
        store.close()
        assert nonce(new.rpc, c.address(OPERATOR)) == first.nonce  # (free there too)

        def its_receipt(msg: dict[str, Any]) -> bool:  # (the restart's first ask of the row)
            return msg.get("method") == "eth_getTransactionReceipt" and msg.get("params") == [
                first.tx_hash
            ]

        async with switching_proxy(old.node.url, new.node.url, its_receipt) as proxy:
            cfg = replace(cfg, rpc=proxy.url, new_heads=False)
            async with running_node(cfg) as (node, _):
                assert proxy.switched
                # (no saved head: the watcher reads the new chain from the deployment block)
                await new_chain_mined(new, node, resets=0)
                assert new.rpc.call("eth_getTransactionByHash", first.tx_hash) is None
                assert first.tx_hash.lower() in node.settler.given_up
    finally:
        old.stop()
        new.stop()
