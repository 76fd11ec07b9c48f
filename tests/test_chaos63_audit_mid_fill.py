"""chaos63: a fill that lands while ``sdex audit`` runs does not make an honest node look
behind the chain.

The audit reads the nodes first (each synced to the head it read at the start) and the chain
after, at a later head. chaos60's seed 4, phase 0 (``/tmp/chaos52-4-nmj87kho``): a node
settled a match 0.2 s into the audit, after the audit had read the three books and before it
read the chain; every node was named ``node_keeps_closed_order`` ("the node shows it
partially_filled; the chain says filled") for an order each of them closed a moment later.
Now an Exchange log above the head the nodes were read at has them read again at the new
head (at most ``READS`` times).

Real Hardhat, a real node on loopback, and a real aiohttp proxy in front of it that lands a
``fillOrder`` on the chain once the audit has walked the node's orders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from sdex.audit import audit_network
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, serving, wait_for
from tests.test_node import BOB, CAROL, E6, E18, bid

SESSION = web.AppKey("session", aiohttp.ClientSession)
FIRED = web.AppKey("fired", list[str])


def filling_proxy(base: str, fill: SignedOrder, c: Chain) -> web.Application:
    """Forwards GETs to the node at ``base``; after the first walk of ``/v1/orders`` has been
    answered by the node, lands CAROL's ``fillOrder`` of ``fill`` before passing the page on."""
    fired: list[str] = []

    async def forward(request: web.Request) -> web.Response:
        async with request.app[SESSION].get(base + str(request.rel_url)) as r:
            body, status, kind = await r.read(), r.status, r.content_type
        if request.path == "/v1/orders" and not fired:
            receipt = await asyncio.to_thread(c.exchange.fill_order, c.sender(CAROL), fill, E18)
            fired.append(receipt.tx_hash)
        return web.Response(body=body, status=status, content_type=kind)

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[SESSION] = session
            yield

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_get("/{tail:.*}", forward)
    app[FIRED] = fired
    return app


async def test_a_fill_landing_during_the_audit_is_not_a_node_behind(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    resting = c.sign(bid(c, BOB, E18, 1000 * E6))  # nothing crosses it: it rests, open
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        assert (await api.post_order(resting))[0] == 201
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: node.watcher.block >= head, timeout=30)
        app = filling_proxy(api.base, resting, c)
        async with serving(app) as url:
            report = await asyncio.to_thread(audit_network, c.deployment, [url], sync_timeout=20.0)
        assert len(app[FIRED]) == 1  # the fill landed between the node's read and the chain's
        assert c.exchange.order_info(resting.order).filled == resting.order.maker_amount
        found = [(d.kind, d.detail) for d in report.discrepancies]
        assert found == [], found
        assert await api.status(resting) == "filled"
