"""settle95 (left43's first): the watcher does not wait for an own settlement's receipt while
the settler confirms it (settle93's read apart), and its own read of the block is that
confirmation.

Before, the settler gave the receipt to the mirror only once a header read on a connection of
its own confirmed it, and the watcher held the settlement's block for it (up to
``EXPECT_PATIENCE``): under load it fell 3-7 blocks behind (fix93's A/B: orders read from
the chain, a client throttled). With every confirming read held, the settlement was never
counted settled.

Real Hardhat (automine: each settlement a block), a real node and SQLite store behind a real
loopback JSON-RPC proxy (aiohttp) that holds every ``eth_getBlockByHash`` (the confirming
read) until the test lets it go, each other call passed on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.chain import Receipt
from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

HOLD_BOUND = 90.0
"""Seconds the proxy holds a confirming read at most (the test lets them go sooner)."""


@dataclass
class Holding:
    url: str = ""
    go: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0
    """Requests holding an ``eth_getBlockByHash`` held so far."""
    answered: int = 0
    """Of them, answered (after ``go``)."""


@asynccontextmanager
async def holding_proxy(upstream: str) -> AsyncIterator[Holding]:
    """A JSON-RPC proxy in front of ``upstream`` on a loopback port: a request (a call or a
    batch) with an ``eth_getBlockByHash`` in it waits for ``go`` (at most ``HOLD_BOUND``
    s), every request passed on as it came."""
    h = Holding()
    session = aiohttp.ClientSession()

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        msg: Any = json.loads(body)
        calls = msg if isinstance(msg, list) else [msg]
        confirming = any(isinstance(c, dict) and c.get("method") == "eth_getBlockByHash"
                         for c in calls)  # fmt: skip
        if confirming:
            h.held += 1
            async with asyncio.timeout(HOLD_BOUND):
                await h.go.wait()
        headers = {"Content-Type": "application/json"}
        async with session.post(upstream, data=body, headers=headers) as r:
            answer = await r.read()
        h.answered += confirming
        return web.Response(body=answer, content_type="application/json")

    app = web.Application(client_max_size=1 << 22)
    app.router.add_post("/", post)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    h.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield h
    finally:
        h.go.set()
        await runner.cleanup()
        await session.close()


async def test_the_watcher_passes_a_settlements_block_while_its_confirming_read_is_held(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with holding_proxy(c.rpc.url) as p:
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=p.url)
        async with running_node(cfg) as (node, api):
            s, m = node.settler, node.mirror
            assert (await api.post_order(maker))[0] == 201
            code, body = await api.post_order(taker)
            assert code == 201 and len(body["matches"]) == 1, body

            async def filled() -> bool:
                return await api.status(maker) == "filled" and s.settled == 1

            # before: every confirming read held, the settlement never counted settled (the
            # mirror took its receipt only once confirmed apart; the watcher held its block
            # for it up to EXPECT_PATIENCE, then read it itself)
            await wait_for(filled, timeout=60)
            assert p.answered == 0, (p.held, p.answered)  # (none let go: confirmed unread)
            its = {"address": c.exchange.address, "fromBlock": "0x0",
                   "topics": [None, "0x" + maker.hash.hex()]}  # fmt: skip
            logs = c.rpc.call("eth_getLogs", its)
            [tx] = {lg["transactionHash"] for lg in logs}
            mined = c.rpc.call("eth_getTransactionReceipt", tx)
            at = quantity(mined["blockNumber"])
            assert m.head is not None and m.head.number >= at
            assert not m.found and not m.confirms and not m.seen_logs  # (nothing kept)
            c.rpc.call("evm_mine")  # (and the watcher goes on past it, reads held or not)
            await wait_for(lambda: m.head is not None and m.head.number > at, timeout=60)
            assert p.answered == 0, (p.held, p.answered)
            assert m.filled_of(maker.hash) == E18 and m.filled_of(taker.hash) > 0
            got = Receipt.from_rpc(mined)
            # (the logs the watcher reads of the block, the chain's: they confirm the
            # receipt; another block's hash at its number, a fill's topic changed, one log
            # left out or one more do not)
            read = {m.address, *m.tokens}
            assert any(lg.address == m.address for lg in got.logs)
            ours = [lg for lg in got.logs if lg.address in read]
            m.seen_logs[got.tx_hash] = {got.block_hash: ours}
            assert m.seen_as(got)
            assert not m.seen_as(replace(got, block_hash="0x" + "11" * 32))
            assert not m.seen_as(replace(got, logs=got.logs[:-1]))
            assert not m.seen_as(replace(got, logs=[*got.logs, got.logs[0]]))
            first = got.logs[0]
            forged = first._replace(topics=[first.topics[0], b"\x01" * 32, *first.topics[2:]])
            assert not m.seen_as(replace(got, logs=[forged, *got.logs[1:]]))
            del m.seen_logs[got.tx_hash]
            p.go.set()
    assert c.exchange.order_info(maker.order).filled == E18
