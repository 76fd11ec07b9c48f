"""A stranger (a key not in the peer table) spending the strangers' shared budget keeps no
new node's hello away, so no new node's admission (gossip74; ``sdex.gossip.gate.HELLOS``).
Before, every request of every stranger, hellos included, spent one budget: a flood of
other requests (digests, from many client addresses, each within its budget of refusals)
held it empty, and a new node's hello was answered 429 every time: the node it greeted
never dialled it back, and never admitted it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp

from sdex.gossip import GossipConfig, NodeKey
from sdex.httpkit import RateLimit
from tests.p2putil import serve_gossip
from tests.test_stream import until

FLOODERS = 25
"""Client addresses the flood comes from (127.0.0.2 on: loopback answers them all), each
well within its budget of refusals (``sdex.gossip.refusals.REFUSALS``, 8 a second)."""
PACE = 50.0
"""The flood's requests a second, all addresses together."""
LIMIT = RateLimit(rate=1.0, burst=4)
"""The greeted node's peers' rate limit: the strangers' budget a quarter of it, 0.25 a
second (the flood holds it empty with few requests)."""


@contextlib.asynccontextmanager
async def flood(url: str, to: str) -> AsyncIterator[list[int]]:
    """Signed ``GET /p2p/digest`` from one stranger key at ``PACE``, spread over ``FLOODERS``
    client addresses; the statuses' counts (200, 429) while it runs."""
    key = NodeKey.generate()
    counts = [0, 0]
    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(f"127.0.0.{i + 2}", 0)))
        for i in range(FLOODERS)
    ]

    async def one(i: int) -> None:
        path = f"/p2p/digest?n={i}"  # (each signature new: no replay)
        headers = key.request_headers("GET", path, b"", "http://127.0.0.1:9", to)
        with contextlib.suppress(aiohttp.ClientError):
            async with sessions[i % FLOODERS].get(url + path, headers=headers) as r:
                await r.read()
                counts[r.status != 200] += 1

    async def run() -> None:
        loop = asyncio.get_running_loop()
        start, tasks = loop.time(), set()
        for i in range(10**9):
            await asyncio.sleep(max(0.0, start + i / PACE - loop.time()))
            task = asyncio.create_task(one(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    runner = asyncio.create_task(run())
    try:
        yield counts
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        for s in sessions:
            await s.close()


async def test_a_new_nodes_hello_is_heard_while_a_stranger_spends_the_strangers_budget() -> None:
    """A real gossip driver whose strangers' budget a flood holds empty; a new real driver
    seeded with it says hello: it is admitted within the bound (before: its hellos 429'd
    every time, never admitted)."""
    cfg = GossipConfig(dial_interval=0.1)
    greeted = await serve_gossip(cfg, [], limit=LIMIT)
    new = None
    try:
        await greeted.gossip.start()
        async with flood(greeted.url, greeted.gossip.node_id) as counts:
            await until(lambda: counts[1] >= 20, 20)  # (the strangers' budget spent)
            new = await serve_gossip(cfg, [greeted.url])
            await new.gossip.start()
            await until(lambda: greeted.gossip.peers.get(new.gossip.node_id) is not None, 20)
            assert counts[0] < counts[1]  # (the flood went on: most refused)
    finally:
        for m in (new, greeted):
            if m is not None:
                await m.runner.shutdown()
                await m.gossip.stop()
                await m.runner.cleanup()
