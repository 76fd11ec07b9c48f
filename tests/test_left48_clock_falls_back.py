"""left48: the node's clock follows the chain's tip, down as well as up.

``NodeState.clock_lead`` (attack44) and the watcher's only grew: one block stamped far
ahead of the wall clock (a JSON-RPC endpoint's lie, or a clock since set back in line) made
the node judge expiry that far ahead for good: every honest order expiring within it was
refused as expired, and every resting one closed. Now the lead is the most the last
``LEAD_BLOCKS`` blocks showed (review48's ``ClockLead``) and the tip's block sets the
latest stamp (it only grew, pinned by the lie): once that many honest blocks follow, the
lie counts no more, and a pending block's guess stays bounded as review46 left it.

The chain is the test's Hardhat; the node reads it through a loopback JSON-RPC endpoint that
passes every call on but stamps one block ``AHEAD`` seconds late in its answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.watch.clocklead import LEAD_BLOCKS
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, serving, wait_for
from tests.test_node import ALICE, E6, E18, ask

AHEAD = 6 * 3600
"""Seconds the lying endpoint moves its one block's stamp ahead."""


def stamped(result: Any, number: int) -> Any:
    """``result`` with block ``number``'s stamp moved AHEAD (any other answer as it is)."""
    if isinstance(result, dict) and result.get("number") == hex(number) and "timestamp" in result:
        return {**result, "timestamp": hex(int(result["timestamp"], 16) + AHEAD)}
    return result


@asynccontextmanager
async def one_block_ahead(upstream: str, number: int) -> AsyncIterator[str]:
    """A loopback JSON-RPC endpoint passing every call to ``upstream``, block ``number``'s
    stamp moved AHEAD in every answer that carries it."""

    async with aiohttp.ClientSession() as session:

        async def one(call: dict[str, Any]) -> dict[str, Any]:
            async with session.post(upstream, json=call) as r:
                answer: dict[str, Any] = await r.json(content_type=None)
            if "result" in answer:
                answer["result"] = stamped(answer["result"], number)
            return answer

        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            if isinstance(body, list):
                return web.json_response([await one(c) for c in body])
            return web.json_response(await one(body))

        app = web.Application()
        app.router.add_post("/", handle)
        async with serving(app) as url:
            yield url + "/"


async def at_block(api: Api, number: int) -> None:
    async def seen() -> bool:
        return int((await api.get("/health"))[1]["block"]) >= number

    await wait_for(seen, timeout=30)


async def test_a_block_stamped_far_ahead_expires_nothing_once_newer_ones_come(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    lie = int(c.rpc.call("eth_blockNumber"), 16) + 1
    async with one_block_ahead(c.deployment.rpc, lie) as rpc:
        cfg = node_config(c, tmp_path / "n.db", rpc=rpc)
        async with running_node(cfg) as (node, api):
            c.rpc.call("evm_mine")  # the block the endpoint stamps AHEAD s late
            await at_block(api, lie)
            assert node.now() > c.now() + AHEAD - 60  # (the lie, as a tip shows it)
            c.rpc.call("hardhat_mine", hex(LEAD_BLOCKS))  # the chain's clock as it is
            await at_block(api, lie + LEAD_BLOCKS)
            expiry = c.now() + 3600  # an hour of life by the chain's clock
            assert node.now() < expiry  # (before: AHEAD s ahead for good)
            honest = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=expiry))
            code, body = await api.post_order(honest)
            assert code == 201, body  # (refused as expired before)
