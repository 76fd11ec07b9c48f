"""A node stops cleanly and at once with clients connected.

Before: the node's event stream was never ended at a stop, so the HTTP server's shutdown
waited its whole ``shutdown_timeout`` (2 s) for each websocket subscriber's handler (waiting
for the next event), then cut the socket: a node with one subscriber took 4.0 s to stop
(0.013 s with none), and the subscriber saw its socket dropped, no close frame.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Cluster, node_config, running_node, wait_for
from tests.test_node import E6, E18, ask, bid


async def test_a_subscriber_gets_a_close_frame_when_the_node_stops(
    chain: Chain, tmp_path: Path
) -> None:
    cfg = node_config(chain, tmp_path / "n.db")
    async with aiohttp.ClientSession() as session:
        async with running_node(cfg) as (_, api):
            ws = await session.ws_connect(api.base + "/v1/ws")
            assert (await ws.receive_json())["type"] == "hello"
        # (the node has stopped: its last word on the socket)
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.CLOSE, msg
        await ws.close()


async def subscriber(
    session: aiohttp.ClientSession, url: str, seen: list[aiohttp.WSMessage]
) -> list[aiohttp.WSMessage]:
    """A websocket subscriber that reads until its socket closes: its events (into ``seen``,
    as they come: the hello first), then the close."""
    async with session.ws_connect(url + "/v1/ws", autoclose=False) as ws:
        while True:
            msg = await ws.receive()
            seen.append(msg)
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                return seen


async def trade(c: Chain, net: Cluster, stop: asyncio.Event, counts: list[int]) -> None:
    """Post asks and the bids that cross them, to both nodes in turn (gossip between them,
    a settlement on the chain for each pair), until ``stop`` (or a node no longer answers)."""
    expiry = c.now() + 3600
    k = 0
    while not stop.is_set():
        a = c.sign(ask(c, 1 + k % 5, E18 // 100, 30 * E6, expiry=expiry))
        b = c.sign(bid(c, 6 + k % 5, E18 // 100, 30 * E6, expiry=expiry))
        try:
            code_a, _ = await net.api(k % 2).post_order(a)
            code_b, body = await net.api((k + 1) % 2).post_order(b)
        except aiohttp.ClientError:
            return
        counts[0] += code_a == 201 and code_b == 201
        counts[1] += code_b == 201 and bool(body.get("matches"))
        k += 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_nodes_stop_cleanly_under_load(
    chain: Chain, tmp_path: Path, signum: signal.Signals
) -> None:
    """Two ``sdex node`` processes, peers of each other, taking crossing orders (gossip, and
    settlements in flight on Hardhat) with two websocket subscribers each, are sent
    ``signum`` while the load goes on: each exits 0, its subscribers get a close frame, and
    its log has no error (an exception, a task destroyed pending, an unclosed session)."""
    c = chain
    async with Cluster(c, tmp_path, [[1], [0]], GOSSIP_SCALE) as net:
        session = net.session
        assert session is not None
        seen: list[list[aiohttp.WSMessage]] = [[] for _ in range(4)]
        subs = [
            asyncio.create_task(subscriber(session, net.urls[k // 2], seen[k])) for k in range(4)
        ]
        await wait_for(lambda: all(seen), timeout=60)  # (each subscribed: its hello came)
        stop, counts = asyncio.Event(), [0, 0]
        load = asyncio.create_task(trade(c, net, stop, counts))
        await wait_for(lambda: counts[1] >= 5, timeout=120)  # (settlements in flight)
        started = time.monotonic()
        for p in net.procs:
            assert p is not None
            p.send_signal(signum)
        took: list[float] = []
        for p in net.procs:
            assert p is not None
            await wait_for(lambda p=p: p.poll() is not None, timeout=60)  # type: ignore[misc]
            took.append(time.monotonic() - started)
        stop.set()
        await asyncio.wait_for(load, 30)
        await asyncio.wait_for(asyncio.gather(*subs), 30)
        print(f"{signum.name}: stopped in {took} s after {counts} pairs posted/matched")
        assert [p.returncode for p in net.procs if p is not None] == [0, 0]
        assert all(s[-1].type is WSMsgType.CLOSE for s in seen), [s[-1] for s in seen]
        for i in range(2):
            log = (tmp_path / f"node-{i}.log").read_text()
            for bad in ("Traceback", "Task was destroyed", "Unclosed", "Exception ignored"):
                assert bad not in log, (i, bad, log[-3000:])
