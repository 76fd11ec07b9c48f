"""Both JSON-RPC clients drop a kept-alive connection that sat unused longer than
``IDLE_REUSE`` instead of writing to it: Node's HTTP server (Hardhat) closes one idle for
5 s, and a request written as that close crosses it is reset, its fate unknown."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sdex.chain import arpc, rpc
from tests.nodeutil import free_port


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, set[object]]]:
    """A loopback JSON-RPC answering every call with 1; the connections it was asked on."""
    seen: set[object] = set()

    async def handle(r: web.Request) -> web.Response:
        seen.add(r.transport.get_extra_info("peername") if r.transport else None)
        return web.json_response({"jsonrpc": "2.0", "id": (await r.json())["id"], "result": 1})

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/", seen
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("idle", "connections"), [(60.0, 1), (1e-9, 3)])
async def test_the_sync_client_reuses_only_a_connection_used_lately(
    server: tuple[str, set[object]],
    monkeypatch: pytest.MonkeyPatch,
    idle: float,
    connections: int,
) -> None:
    url, seen = server
    monkeypatch.setattr(rpc, "IDLE_REUSE", idle)
    client = rpc.Rpc(url)
    try:
        for _ in range(3):
            assert await _in_thread(client.call, "eth_blockNumber") == 1
    finally:
        client.close()
    assert len(seen) == connections


@pytest.mark.parametrize(("idle", "connections"), [(60.0, 1), (1e-9, 3)])
async def test_the_async_client_reuses_only_a_connection_used_lately(
    server: tuple[str, set[object]],
    monkeypatch: pytest.MonkeyPatch,
    idle: float,
    connections: int,
) -> None:
    url, seen = server
    monkeypatch.setattr(rpc, "IDLE_REUSE", idle)
    client = arpc.AsyncRpc(url)
    try:
        for _ in range(3):
            assert await client.call("eth_blockNumber") == 1
    finally:
        await client.close()
    assert len(seen) == connections


async def _in_thread(fn: object, *args: object) -> object:
    import asyncio

    assert callable(fn)
    return await asyncio.to_thread(fn, *args)
