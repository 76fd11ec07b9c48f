"""attack27: a websocket client over its request budget is not read on at full speed.

A book request over a client's budget was answered with an error event, and the next
message read at once: 32 sockets from 4 loopback addresses sending subscribe/unsubscribe
without reading (30-42k messages a second: 10,000 a second an address are within the
default request budget, the rest refused) held a
node's event loop (``GET /health`` p50 0.6-1.3 s, max 3.7 s; an honest order's match and
settlement 2.3-8.4 s instead of 0.15-0.3 s; RSS +160 MB in a minute). The same client over
HTTP, one request at a time, cost the node ~20 ms of ``/health`` p50. Now a refused message
pauses the socket's reading (``WS_THROTTLED_PAUSE``): the client's sends wait in TCP, and
the node answers at most one refused message a pause."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from sdex.httpkit import RateLimit
from sdex.node.wsapi import WS_THROTTLED_PAUSE
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

SENT = 3_000
WINDOW = 3.0
"""Seconds the flood's answers are counted for: before, all 3,000 came in well under it."""


async def test_a_flooding_subscriber_is_read_at_the_pace_of_its_budget(
    chain: Chain, tmp_path: Path
) -> None:
    tokens = chain.deployment.tokens
    sub = json.dumps(
        {
            "op": "subscribe",
            "channel": "book",
            "baseToken": tokens["WETH"].address,
            "quoteToken": tokens["USDC"].address,
        }
    )
    cfg = node_config(chain, tmp_path / "n.db", rate_limit=RateLimit(rate=50, burst=50))
    async with running_node(cfg) as (_node, api):
        ws = await api.session.ws_connect(api.base + "/v1/ws")
        assert (await ws.receive_json(timeout=10))["type"] == "hello"

        async def flood() -> None:
            for _ in range(SENT):
                await ws.send_str(sub)

        sending = asyncio.create_task(flood())
        answers = refused = 0
        deadline = time.monotonic() + WINDOW
        while answers < SENT and (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ws.receive(timeout=left)
            except TimeoutError:
                break
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            answers += 1
            refused += json.loads(msg.data).get("code") == 103
        # the budget's 50 and 50 a second, and one refused message a pause at most (slack:
        # twice the pauses in the window); before: all 3,000 answered, ~2,950 refused
        assert 1 <= refused <= 2 * WINDOW / WS_THROTTLED_PAUSE, (answers, refused)
        assert answers <= 50 + 50 * WINDOW + refused, (answers, refused)
        code, _ = await api.get("/health")
        assert code == 200
        sending.cancel()
        await ws.close()
