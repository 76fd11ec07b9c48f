"""chainhang33: a chain whose JSON-RPC server hangs (Hardhat stopped with SIGSTOP: the TCP
connection is taken, nothing is ever answered) while the node is idle. ``/health`` said
``"chain": "ok"`` until a read timed out (the client's 30 s), a wallet's order that needed a
chain read waited that long, and ``sdex order``'s "still settling" said nothing of the chain.
Now the watcher's unanswered read marks the chain ``unreachable`` within a few seconds
(``sdex.watch.loop.STALL``), intake refuses such orders at once, the wallet's line names the
chain's state, and all recovers when the chain answers again. A chain that answers but
mines nothing (automine, idle) stays ``ok``."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
from pathlib import Path

from aiohttp import web
from rich.console import Console

from sdex.chain.arpc import AsyncRpc
from sdex.chainnode import Engine
from sdex.client import NodeClient, PostedOrder
from sdex.deployment import TokenInfo
from sdex.wallet import Market, Side
from sdex.walletsettle import await_settlement
from tests.nodeutil import Api, running_node, serving, wait_for
from tests.test_chain_outage import OwnChain, OwnOrders
from tests.test_node import ALICE, BOB, CAROL, E6, E18

DETECTED_WITHIN = 15.0
"""Seconds the test waits for the hang to show: half the RPC client's own timeout (30 s), so
a node that only notices when a read times out fails it."""
STALL = 2.0
"""The node's ``stall`` here, once its idle polls were seen ok (``STALL``: 5 s): the hang is
the same, said sooner."""
SETTLE_WAIT = 2.0
"""Seconds the wallet waits for the match made as the chain hung (the test has seen the node
say the chain is unreachable first: the wallet's line says it)."""


async def test_a_hung_chain_is_unreachable_within_seconds_and_recovers(
    tmp_path: Path, engine: Engine
) -> None:
    net = OwnChain("chainhang33", engine)
    stopped = False
    proc = net.node.proc
    assert proc is not None
    try:
        dep = net.deploy()
        own = OwnOrders(net, dep, tmp_path / "n.db")
        cfg, weth, usdc = own.cfg, own.weth, own.usdc

        ask = own.ask(ALICE)  # (her
        # funds: in the mirror from here on)
        low_bid = own.sign(BOB, usdc, 1000 * E6, weth, E18)
        async with running_node(cfg) as (node, api):

            async def health() -> tuple[int, dict[str, object]]:
                code, body = await api.get("/health")
                return code, body

            async def settled_ok() -> bool:
                code, h = await health()
                return code == 200 and h["caughtUp"] is True and node.watcher.subscribed

            await wait_for(settled_ok)
            # (posted once caught up: her funds in the mirror from the read at once)
            assert (await api.post_order(ask))[0] == 201
            assert (await api.post_order(low_bid))[0] == 201

            # Answering, mining nothing (automine, idle): several safety polls, all ok.
            sent = node.watch_rpc.requests

            async def idle_polls_ok() -> bool:
                code, h = await health()
                assert code == 200 and h["chain"] == "ok", h
                return node.watch_rpc.requests >= sent + 3

            await wait_for(idle_polls_ok, timeout=30)

            # Hung: the connection taken, nothing answered. A match made at once (judged from
            # the mirror, before the hang shows): its settlement waits, and the wallet's line
            # says why once the node knows (the wallet's wait read after the hang showed).
            account = (dep.accounts[ALICE].address.lower(), weth.lower())
            assert node.mirror.spendable(account), "her funds: not in the mirror"
            node.watcher.stall = STALL
            os.kill(proc.pid, signal.SIGSTOP)
            stopped = True
            hung_at = time.monotonic()
            take = own.ask(ALICE, 1000 * E6)
            market = Market("WETH", "USDC", TokenInfo(weth, 18), TokenInfo(usdc, 6))
            out = io.StringIO()

            url = api.base

            def post() -> PostedOrder:
                with NodeClient(url) as client:
                    return client.post_order(take)

            def wallet() -> None:
                with NodeClient(url) as client:
                    console = Console(file=out, width=400, color_system=None)
                    await_settlement(console, client, market, Side.SELL, posted, SETTLE_WAIT)

            posted = await asyncio.to_thread(post)
            assert posted.matches, posted
            seen: list[object] = []

            async def unreachable() -> bool:
                code, h = await health()
                seen[:] = [code, h.get("chain")]
                return code == 503 and h["chain"] == "unreachable"

            try:
                left = hung_at + DETECTED_WITHIN - time.monotonic()
                await wait_for(unreachable, timeout=max(left, 0.0))
            except AssertionError:
                raise AssertionError(f"/health after the hang: {seen}") from None
            _, h = await health()
            problem = h["chainMirror"]["problem"]  # type: ignore[index]
            assert "not answered" in str(problem), problem
            await asyncio.to_thread(wallet)
            said = out.getvalue()
            assert "still settling" in said and "chain is unreachable" in said, said

            # An order that needs a chain read (a maker not seen yet): refused at once.
            carol = own.ask(CAROL, 4000 * E6)
            async with asyncio.timeout(DETECTED_WITHIN):
                code, body = await api.post_order(carol)
            assert code == 503 and "CHAIN_UNAVAILABLE" in str(body), body
            assert "does not follow the chain" in str(body), body

            # The chain answers again: ok, and the match settles.
            os.kill(proc.pid, signal.SIGCONT)
            stopped = False

            async def ok_again() -> bool:
                code, h = await health()
                return code == 200 and h["chain"] == "ok"

            await wait_for(ok_again, timeout=60)
            await wait_for(lambda: _filled(api, take.hash_hex), timeout=60)
    finally:
        if stopped:
            os.kill(proc.pid, signal.SIGCONT)
        net.stop()


async def _filled(api: Api, order_hash: str) -> bool:
    code, rec = await api.get(f"/v1/orders/{order_hash}")
    return code == 200 and rec["metaData"]["status"] == "filled"


async def test_unanswered_for_counts_only_silence_from_the_chain() -> None:
    """``AsyncRpc.unanswered_for``: 0 while nothing is in flight (an idle node) and once any
    answer comes; growing while every request in flight goes unanswered (a real aiohttp
    server on loopback that holds its answers until told)."""
    release = asyncio.Event()
    arrived = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        if body["method"] == "hold":
            arrived.set()
            await release.wait()
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x1"})

    app = web.Application()
    app.router.add_post("/", handle)
    async with serving(app) as url:
        client = AsyncRpc(url + "/")
        try:
            assert client.unanswered_for() == 0.0
            assert await client.call("quick") == "0x1"
            assert client.unanswered_for() == 0.0  # (answered: nothing in flight)
            held = asyncio.create_task(client.call("hold"))
            await asyncio.wait_for(arrived.wait(), 10)
            first = client.unanswered_for()
            await wait_for(lambda: client.unanswered_for() > first)  # (silence grows)
            # another request answered while the first is held: the chain answers
            assert await client.call("quick") == "0x1"
            assert client.unanswered_for() < first + 1.0
            release.set()
            assert await asyncio.wait_for(held, 10) == "0x1"
            assert client.unanswered_for() == 0.0
        finally:
            release.set()
            await client.close()
