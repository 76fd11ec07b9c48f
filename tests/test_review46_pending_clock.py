"""review46: a JSON-RPC endpoint whose pending block is stamped far ahead expired every order.

attack44 took the chain's clock lead from its pending block's stamp at start (an idle Hardhat
chain ahead of the wall clock shows it no other way), allowed up to a day past the latest
block, and kept it for good (the lead only grows). An endpoint answering ``pending`` with a
stamp hours ahead (a hostile or broken one: a pending block is a guess, nothing mined) made
the node judge expiry hours ahead while the chain's own blocks kept the wall clock: an
honest order expiring within that was refused as expired, and one resting closed as expired
at the next order's arrival. Now a pending stamp moves the node's clock by at most
``MAX_PENDING_LEAD`` past the wall clock, and only until the chain mines a block (a mined
block shows its clock as it is).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, serving, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

AHEAD = 6 * 3600
"""Seconds past the latest block the hostile endpoint stamps its pending block."""


@asynccontextmanager
async def far_pending(upstream: str) -> AsyncIterator[str]:
    """A loopback JSON-RPC endpoint passing every call to ``upstream`` but answering
    ``eth_getBlockByNumber("pending")`` with a block stamped AHEAD s past the latest."""

    async def one(session: aiohttp.ClientSession, call: dict[str, Any]) -> dict[str, Any]:
        async with session.post(upstream, json=call) as r:
            answer: dict[str, Any] = await r.json(content_type=None)
        if call.get("method") == "eth_getBlockByNumber" and call.get("params", [None])[0] == (
            "pending"
        ):
            latest = {"jsonrpc": "2.0", "id": 0, "method": call["method"]}
            latest["params"] = ["latest", False]
            async with session.post(upstream, json=latest) as r:
                stamp = int((await r.json(content_type=None))["result"]["timestamp"], 16)
            answer["result"] = {**answer["result"], "timestamp": hex(stamp + AHEAD)}
        return answer

    async with aiohttp.ClientSession() as session:

        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            if isinstance(body, list):
                return web.json_response([await one(session, c) for c in body])
            return web.json_response(await one(session, body))

        app = web.Application()
        app.router.add_post("/", handle)
        async with serving(app) as url:
            yield url + "/"


async def test_a_far_pending_stamp_expires_no_honest_order(chain: Chain, tmp_path: Path) -> None:
    async with far_pending(chain.deployment.rpc) as rpc:
        cfg = node_config(chain, tmp_path / "n.db", rpc=rpc)
        async with running_node(cfg) as (node, api):
            expiry = chain.now() + 3600  # an hour of life by the chain's clock
            resting = chain.sign(ask(chain, ALICE, E18, 3000 * E6, expiry=expiry))
            code, body = await api.post_order(resting)
            assert code == 201, body  # (refused as expired before)
            chain.rpc.call("evm_mine")  # a block the node sees: its clock as it is
            head = int(chain.rpc.call("eth_blockNumber"), 16)

            async def seen() -> bool:
                return int((await api.get("/health"))[1]["block"]) >= head

            await wait_for(seen, timeout=30)
            # an order's arrival sweeps what the node judges expired: not this one
            low = chain.sign(bid(chain, BOB, E18, 1000 * E6, expiry=expiry))
            code, body = await api.post_order(low)
            assert code == 201, body
            assert await api.status(resting) == "open"
            assert node.now() < expiry
