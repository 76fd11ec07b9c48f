"""A recording JSON-RPC proxy: stands between a node and its chain and counts every call.

Run as ``python bench/rpcproxy.py UPSTREAM_URL PORT``. It forwards HTTP POSTs (single calls
and batches) and the WebSocket (``eth_subscribe`` and its notifications) to ``UPSTREAM_URL``
and keeps, by method: calls, wall time from forwarding to the answer, and the chain's
*service* time (a chain that answers one request at a time, like Hardhat's EDR under its
lock, was busy with a request from the later of its arrival and the previous answer until
its own answer), and bytes each way. ``GET /__stats`` answers the figures since the last
``GET /__reset``. A bench tool only: it trusts its upstream.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from typing import Any

import aiohttp
from aiohttp import web


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.t0 = time.perf_counter()
        self.by: dict[str, dict[str, float]] = defaultdict(
            lambda: {"calls": 0, "wall_ms": 0.0, "service_ms": 0.0, "bytes_in": 0, "bytes_out": 0}
        )
        self.last_end = 0.0
        self.ws_notifications = 0
        self.ws_bytes = 0
        self.timeline: list[tuple[float, float, str, int]] = []
        """(start, end, methods, bytes answered) of every request, seconds since reset."""

    def record(self, methods: list[str], start: float, end: float, nin: int, nout: int) -> None:
        self.timeline.append(
            (round(start - self.t0, 4), round(end - self.t0, 4), ",".join(methods), nout)
        )
        service = end - max(start, self.last_end)
        self.last_end = max(self.last_end, end)
        share = 1 / max(1, len(methods))
        for m in methods:
            row = self.by[m]
            row["calls"] += 1
            row["wall_ms"] += 1000 * (end - start) * share
            row["service_ms"] += 1000 * max(0.0, service) * share
            row["bytes_in"] += nin * share
            row["bytes_out"] += nout * share

    def report(self) -> dict[str, Any]:
        rows = {
            m: {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
            for m, r in sorted(self.by.items(), key=lambda kv: -kv[1]["service_ms"])
        }
        return {
            "seconds": round(time.perf_counter() - self.t0, 3),
            "t0": self.t0,
            "methods": rows,
            "ws_notifications": self.ws_notifications,
            "ws_bytes": self.ws_bytes,
            "timeline": self.timeline,
        }


def methods_of(body: Any) -> list[str]:
    if isinstance(body, dict):
        return [str(body.get("method"))]
    if isinstance(body, list):
        return [str(x.get("method")) if isinstance(x, dict) else "?" for x in body]
    return ["?"]


def label(body: Any) -> list[str]:
    """Methods, with the block tag or first argument where it tells calls apart."""
    out = []
    items = body if isinstance(body, list) else [body]
    for x in items:
        if not isinstance(x, dict):
            out.append("?")
            continue
        m = str(x.get("method"))
        p = x.get("params") or []
        if m == "eth_getBlockByNumber" and len(p) == 2:
            tag = p[0] if p[0] in ("latest", "pending") else "n"
            m = f"{m}({tag},{'full' if p[1] else 'hashes'})"
        elif m in ("eth_getTransactionCount", "eth_call", "eth_getBalance") and len(p) >= 2:
            m = f"{m}({p[-1] if p[-1] in ('latest', 'pending') else 'n'})"
        if isinstance(body, list):
            m = "batch:" + m
        out.append(m)
    return out


async def main(upstream: str, port: int) -> None:
    stats = Stats()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
    ws_upstream = "ws" + upstream.removeprefix("http")

    async def rpc(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await websocket(request)
        raw = await request.read()
        body = json.loads(raw)
        start = time.perf_counter()
        async with session.post(
            upstream, data=raw, headers={"Content-Type": "application/json"}
        ) as resp:
            answer = await resp.read()
            status = resp.status
        end = time.perf_counter()
        stats.record(label(body), start, end, len(raw), len(answer))
        return web.Response(body=answer, status=status, content_type="application/json")

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=1 << 22)
        await ws.prepare(request)
        async with session.ws_connect(ws_upstream, max_msg_size=1 << 22) as up:

            async def down() -> None:
                async for msg in up:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        stats.ws_notifications += 1
                        stats.timeline.append(
                            (round(time.perf_counter() - stats.t0, 4), 0, "ws", 0)
                        )
                        stats.ws_bytes += len(msg.data)
                        await ws.send_str(msg.data)
                    else:
                        break

            task = asyncio.create_task(down())
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    stats.by["ws:" + methods_of(json.loads(msg.data))[0]]["calls"] += 1
                    await up.send_str(msg.data)
                else:
                    break
            task.cancel()
        return ws

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats.report())

    async def reset(request: web.Request) -> web.Response:
        stats.reset()
        return web.json_response({})

    app = web.Application(client_max_size=1 << 26)
    app.router.add_get("/__stats", get_stats)
    app.router.add_get("/__reset", reset)
    app.router.add_route("*", "/", rpc)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
