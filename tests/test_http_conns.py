"""The node's bounds on plain HTTP connections (``sdex.node.conns``), on a real node: raw
sockets from several loopback addresses (all of 127/8 is loopback on Linux) and real
websockets as the busy connections.

Before, aiohttp took every connection and kept an idle one for an hour: 5,000 idle sockets
from one address were all held (docs/BENCHMARKS.md, user12).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(port: int, ip: str = "127.0.0.1") -> Conn:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(ip, 0))


async def get(conn: Conn, path: str = "/health") -> tuple[int, Any]:
    """One keep-alive ``GET`` on a raw connection: (status, JSON body)."""
    reader, writer = conn
    writer.write(f"GET {path} HTTP/1.1\r\nHost: node\r\n\r\n".encode())
    return await answer(reader)


async def answer(reader: asyncio.StreamReader) -> tuple[int, Any]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    length = next(int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length"))
    body = await asyncio.wait_for(reader.readexactly(length), 5)
    return int(lines[0].split()[1]), json.loads(body)


async def closed(conn: Conn) -> bool:
    """The node closed ``conn`` (EOF within 5 s)."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        return await asyncio.wait_for(conn[0].read(), 5) == b""
    return False


@contextlib.asynccontextmanager
async def websockets(base: str, ip: str, n: int) -> AsyncIterator[list[Any]]:
    """``n`` subscribers of ``/v1/ws`` from ``ip``: connections busy while they are open."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(ip, 0))) as s:
        sockets = [await s.ws_connect(base + "/v1/ws") for _ in range(n)]
        for ws in sockets:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
        try:
            yield sockets
        finally:
            for ws in sockets:
                await ws.close()


async def test_idle_connections_make_room_and_busy_ones_are_not_cut(
    chain: Chain, tmp_path: Path
) -> None:
    """4 per address, 6 in all. A fifth connection from an address closes its oldest idle
    one; once all four are busy (websockets) a fifth is refused with 429 and the SRA body,
    and the websockets are untouched; past 6 in all, 503. A freed slot is taken again."""
    cfg = node_config(chain, tmp_path / "n.db", max_http_per_client=4, max_http=6)
    async with running_node(cfg) as (_, api):
        port = cfg.port
        idle = [await connect(port) for _ in range(4)]
        for conn in idle:
            assert (await get(conn))[0] == 200  # admitted; idle now
        fifth = await connect(port)
        assert (await get(fifth))[0] == 200
        assert await closed(idle[0])  # the oldest idle one made room
        async with websockets(api.base, "127.0.0.1", 4) as subs:
            assert all([await closed(c) for c in (*idle[1:], fifth)])  # each made room too
            refused = await connect(port)  # (the writer kept: dropped, it closes the socket)
            status, body = await answer(refused[0])
            assert (status, body["code"], body["validationErrors"]) == (429, 103, [])
            assert await closed(refused)
            assert "from this address: at most 4" in body["reason"]
            async with websockets(api.base, "127.0.0.2", 2):
                refused = await connect(port, "127.0.0.3")
                status, body = await answer(refused[0])
                assert (status, body["code"]) == (503, 103) and "at most 6" in body["reason"]
            assert all(not ws.closed for ws in subs)
            other = await connect(port, "127.0.0.3")  # the two freed slots
            assert (await get(other))[0] == 200
        again = await connect(port)
        assert (await get(again))[0] == 200
        for _, writer in (*idle, fifth, other, again):
            writer.close()


async def test_an_idle_connection_is_closed_after_the_idle_timeout(
    chain: Chain, tmp_path: Path
) -> None:
    """One that never sent a request, and one between two requests: both closed after
    ``http_idle_timeout`` (aiohttp's default held them for an hour)."""
    cfg = node_config(chain, tmp_path / "n.db", http_idle_timeout=0.5)
    async with running_node(cfg):
        silent = await connect(cfg.port)
        used = await connect(cfg.port)
        assert (await get(used))[0] == 200
        assert await closed(silent) and await closed(used)
