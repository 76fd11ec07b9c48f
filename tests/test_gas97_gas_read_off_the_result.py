"""gas97 (review97b (c)): the read of a mined batch's gas (``confirm.gas_believed``, the
header of its block on a connection of its own) is off the path of the settlement's result.

Before, ``BatchTx._landing`` awaited it after the mirror stopped expecting the transaction
(``unexpect``) and before its receipt was noted (``note_receipt``) and the node told
(``on_result``): on a backend that held that read, a batch of 8 or more whose gas would raise
the figure learned waited ``CONFIRM_WAIT`` (10 s) for its result, the watcher meanwhile free
to apply its block as no settlement the mirror expected.

Real Hardhat (automine), a real node and SQLite store behind a real loopback JSON-RPC proxy
(aiohttp) that passes every call on, except that once the settlement's receipt was believed
(the settler holds no transaction in flight any more) it holds each ``eth_getBlockByHash``
of a header alone (the gas read; the confirming reads come before) until released."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.settlement.confirm import CONFIRM_WAIT
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import CAROL, DAVE, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all

HOLD = 60.0
"""Seconds the proxy holds a gas read at most (past ``CONFIRM_WAIT``: it gives up first)."""


@dataclass
class Holding:
    url: str = ""
    when: Callable[[], bool] = lambda: False
    held: list[float] = field(default_factory=list)
    """When each held read came."""
    release: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def holding_proxy(upstream: str) -> AsyncIterator[Holding]:
    """A proxy in front of ``upstream`` on a loopback port: each call passed on, a lone
    ``eth_getBlockByHash`` of a header alone held (until ``release``, at most ``HOLD`` s)
    while ``when()``."""
    p = Holding()
    session = aiohttp.ClientSession()

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        call: Any = json.loads(body)
        if (
            isinstance(call, dict)
            and call.get("method") == "eth_getBlockByHash"
            and call.get("params", [None, None])[1] is False
            and p.when()
        ):
            p.held.append(time.monotonic())
            try:
                async with asyncio.timeout(HOLD):
                    await p.release.wait()
            except TimeoutError:
                pass
        headers = {"Content-Type": "application/json"}
        async with session.post(upstream, data=body, headers=headers) as r:
            answer = await r.read()
        return web.Response(body=answer, content_type="application/json")

    app = web.Application(client_max_size=1 << 22)
    app.router.add_post("/", post)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    p.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield p
    finally:
        p.release.set()
        await runner.cleanup()
        await session.close()


async def test_a_held_gas_read_does_not_hold_the_batchs_result(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with holding_proxy(c.rpc.url) as p:
        cfg = replace(node_config(c, tmp_path / "n.db", max_batch=8, backlog_batch=24), rpc=p.url)
        async with running_node(cfg) as (node, api):
            settler = node.settler
            assert settler.gas.seen == 0  # (a batch of 8 or more teaches: its gas is read)
            asks = [c.sign(ask(c, CAROL, E18 // 10, 300 * E6)) for _ in range(20)]
            await post_all(api, asks)
            p.when = lambda: settler.sent >= 1 and not settler.in_flight
            taker = c.sign(bid(c, DAVE, 2 * E18, 20 * 300 * E6))
            code, body = await api.post_order(taker)
            assert code == 201 and len(body["matches"]) == 20, body
            await wait_for(lambda: bool(p.held), timeout=60)
            # the result reaches the node while the gas read is held (before: only once the
            # read gave up, CONFIRM_WAIT later)
            await wait_for(lambda: settler.settled == 20, timeout=CONFIRM_WAIT / 2)
            assert p.held and not p.release.is_set()
            assert settler.sent == 1 and settler.largest_batch == 20 and settler.failed == 0
            assert await api.status(taker) == "filled"
            for s in asks:
                assert await api.status(s) == "filled"
            # the mirror's fills are the chain's, once its head passed the settlement's block
            head = int(c.rpc.call("eth_blockNumber"), 16)
            mirror = node.mirror
            await wait_for(lambda: mirror.head is not None and mirror.head.number >= head, 30)
            for s in [*asks, taker]:
                assert mirror.filled_of(s.hash) == c.exchange.order_info(s.order).filled
            assert c.exchange.order_info(taker.order).filled == taker.order.maker_amount
            # every fill of it stored as the node's own settlement's
            fills = (await node.store.fills_page(1, 100, taker.hash_hex))[1]
            for s in asks:
                fills += (await node.store.fills_page(1, 100, s.hash_hex))[1]
            assert len(fills) == 40 and all(f.ours for f in fills), fills
            # the gas read is still held: nothing learned yet; once let go, it is
            assert settler.gas.seen == 0
            p.release.set()
            await wait_for(lambda: settler.idle.is_set() and settler.gas.seen > 0, timeout=30)
