"""A JSON-RPC proxy on loopback (aiohttp) in front of the test chain that answers an
``eth_getLogs`` of more than ``most`` blocks as real providers refuse one (an error object
in its place, alone or in a batch; HTTP 413; or an answer padded past the client's bound);
everything else is forwarded as it is."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from sdex.chain.rpc import MAX_RESPONSE
from tests.sends31proxy import serving_posts

REFUSALS: dict[str, tuple[int, str]] = {
    "infura": (-32005, "query returned more than 10000 results"),
    "alchemy": (-32602, "Log response size exceeded. You can make eth_getLogs requests"),
    "quicknode": (-32614, "eth_getLogs is limited to a 10,000 range"),
}
"""Error objects of real providers, by name; "413" (HTTP) and "pad" (an answer past
``MAX_RESPONSE``, the read client's bound) are the other ways."""


@dataclass
class LogsProxy:
    url: str
    way: str
    most: int
    """``eth_getLogs`` of more blocks than this are refused (-1: every one)."""
    logs_asked: int = 0
    refused: int = 0
    batch_most: int | None = None
    """A request of more ``eth_getLogs`` than this has them all refused (None: no bound)."""
    below: int = 0
    """``eth_getLogs`` from a block below this are refused too (a read anew held there)."""


def _span(call: Any) -> int:
    f = call["params"][0]
    return int(f["toBlock"], 16) - int(f["fromBlock"], 16) + 1


@asynccontextmanager
async def logs_proxy(
    upstream: str, way: str, most: int, batch_most: int | None = None
) -> AsyncIterator[LogsProxy]:
    proxy = LogsProxy("", way, most, batch_most=batch_most)
    session = aiohttp.ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        calls = msg if isinstance(msg, list) else [msg]
        big = set()
        for c in calls:
            if isinstance(c, dict) and c.get("method") == "eth_getLogs":
                proxy.logs_asked += 1
                low = int(c["params"][0]["fromBlock"], 16) < proxy.below
                if proxy.most < 0 or _span(c) > proxy.most or low:
                    big.add(c.get("id"))
        logs = [c for c in calls if isinstance(c, dict) and c.get("method") == "eth_getLogs"]
        if proxy.batch_most is not None and len(logs) > proxy.batch_most:
            big |= {c.get("id") for c in logs}
        proxy.refused += len(big)
        if big and way == "413":
            return web.Response(status=413, text="Request Entity Too Large")
        async with session.post(upstream, json=msg) as r:
            body = await r.read()
        if big and way == "pad":
            body += b" " * (MAX_RESPONSE + 1)  # (valid JSON, past the client's bound)
        elif big:
            code, message = REFUSALS[way]
            answers = json.loads(body)
            for a in answers if isinstance(answers, list) else [answers]:
                if a.get("id") in big:
                    a.pop("result", None)
                    a["error"] = {"code": code, "message": message}
            body = json.dumps(answers).encode()
        return web.Response(body=body, content_type="application/json")

    try:
        async with serving_posts(handle) as proxy.url:
            yield proxy
    finally:
        await session.close()
