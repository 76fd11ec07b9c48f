"""A node with front processes (``--fronts``, ``sdex.node.fronts``): real front processes
on a loopback port, the node in this process.

A wallet's order through a front is answered 201 once its row is committed; every other
request (on the same keep-alive connection too) is served by the node; bad input gets the
node's own answers; a front that dies is started again; the fronts stop with the node."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import aiohttp

from sdex.node.process import NodeProcess
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, node_ready, running_node, wait_for


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (not a zombie: a child not reaped yet has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_orders_through_a_front_and_the_rest_passed_on(chain: Chain, tmp_path: Path) -> None:
    cfg = node_config(chain, tmp_path / "node.db", fronts=1)
    async with running_node(cfg) as (node, api), contextlib.AsyncExitStack() as stack:
        fresh = await stack.enter_async_context(aiohttp.ClientSession())  # (orders first)
        code, health = await api.get("/health")
        assert code == 200 and health["fronts"]["running"] == 1, health
        [pid] = health["fronts"]["pids"]
        signed = chain.sign(chain.order(0, chain.weth, 10**16, chain.usdc, 20 * 10**6))
        # a wallet's connection that begins with an order stays with the front (``api``'s
        # began with ``/health``: the node serves it, passed on)
        wallet = Api(await stack.enter_async_context(aiohttp.ClientSession()), api.base)
        code, body = await wallet.post_order(signed)
        assert code == 201, body
        assert body["orderHash"] == signed.hash_hex
        # the 2xx came after the commit: the row is there (a read the writer answers in turn)
        assert await node.store.holds_order(signed.hash_hex)
        assert await wallet.status(signed) == "open"  # (the same connection: passed on)
        code, again = await Api(fresh, api.base).post_order(signed)  # a repeat: the node's answer
        assert code == 200, again
        # a signature that is not the maker's: not verified in the front, judged by the node
        forged = dict(signed.to_json())
        forged["salt"] = str(int(forged["salt"]) + 1)
        code, body = await Api(fresh, api.base).post("/v1/orders", forged)
        assert code == 400 and body["validationErrors"][0]["code"] == 1005, body
        # a body the front refuses: the node's answer, with its rate limit's headers
        async with fresh.post(
            api.base + "/v1/orders", data=b"{", headers={"Content-Type": "application/json"}
        ) as r:
            refused: Any = await r.json()
            assert r.status == 400 and refused["code"] == 101, refused
            assert "X-RateLimit-Limit" in r.headers
        code, body = await Api(fresh, api.base).post(
            "/v1/orders", {**signed.to_json(), "timeInForce": "day"}
        )
        assert code == 400 and body["validationErrors"][0]["field"] == "timeInForce", body
        # a websocket on a connection the front passed on
        async with api.session.ws_connect(api.base.replace("http", "ws") + "/v1/ws") as ws:
            assert (await asyncio.wait_for(ws.receive_json(), 10))["type"] == "hello"
        _, health = await api.get("/health")
        assert health["fronts"]["verified"] == 2, health  # (the first post and its repeat)

        # a front that dies is started again (and serves)
        os.kill(pid, 9)

        async def restarted() -> bool:
            code, h = await api.get("/health")
            return code == 200 and h["fronts"]["restarts"] == 1 and h["fronts"]["running"] == 1

        await wait_for(restarted, timeout=60)
        async with aiohttp.ClientSession() as after:
            other = chain.sign(chain.order(1, chain.weth, 10**16, chain.usdc, 21 * 10**6))
            async with after.post(api.base + "/v1/orders", json=other.to_json()) as r:
                assert r.status == 201, await r.text()
        _, health = await api.get("/health")
        pids = health["fronts"]["pids"]
    for p in pids:  # stopped with the node (by their PIDs)
        assert not alive(p), p


async def test_a_node_process_stops_its_fronts(chain: Chain, tmp_path: Path) -> None:
    """``sdex node --fronts 1``: SIGTERM stops the front with the node (by its PID); after
    a SIGKILL of the node (nothing of it runs to stop anything) its front ends by itself
    (its channel closed). The node starts again on the same port after the first stop."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)

    def make(port: int) -> NodeProcess:
        return NodeProcess(
            port, deployment, chain.keys[19], tmp_path / "node.db", tmp_path / "node.log",
            extra=("--fronts", "1"),
        )  # fmt: skip

    async def front(node: NodeProcess) -> int:
        async with aiohttp.ClientSession() as s, s.get(node.url + "/health") as r:
            [pid] = (await r.json())["fronts"]["pids"]
        assert alive(pid)
        return int(pid)

    with node_ready(make, timeout=120) as node:  # (its port picked again if taken first)
        pid = await front(node)
        node.stop()  # (SIGTERM)
    await wait_for(lambda: not alive(pid), timeout=30)
    node = make(node.port).start()  # (the same port again)
    try:
        await asyncio.to_thread(node.wait_ready, 120)
        pid = await front(node)
    finally:
        node.kill()
    await wait_for(lambda: not alive(pid), timeout=30)
