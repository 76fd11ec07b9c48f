"""Both JSON-RPC clients drop a kept-alive connection that sat unused longer than
``IDLE_REUSE`` instead of writing to it: Node's HTTP server (Hardhat) closes one idle for
5 s, and a request written as that close crosses it is reset, its fate unknown."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from sdex.chain import arpc, rpc
from tests.nodeutil import serving


@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize(("idle", "connections"), [(60.0, 1), (1e-9, 3)])
async def test_a_client_reuses_only_a_connection_used_lately(
    monkeypatch: pytest.MonkeyPatch, client: str, idle: float, connections: int
) -> None:
    seen: set[object] = set()  # the connections the server was asked on

    async def handle(r: web.Request) -> web.Response:
        seen.add(r.transport.get_extra_info("peername") if r.transport else None)
        return web.json_response({"jsonrpc": "2.0", "id": (await r.json())["id"], "result": 1})

    app = web.Application()
    app.router.add_post("/", handle)
    monkeypatch.setattr(rpc, "IDLE_REUSE", idle)
    async with serving(app) as url:
        if client == "sync":
            sync = rpc.Rpc(url + "/")
            try:
                for _ in range(3):
                    assert await asyncio.to_thread(sync.call, "eth_blockNumber") == 1
            finally:
                sync.close()
        else:
            aio = arpc.AsyncRpc(url + "/")
            try:
                for _ in range(3):
                    assert await aio.call("eth_blockNumber") == 1
            finally:
                await aio.close()
    assert len(seen) == connections
