"""review24: an attacker's look at websocket events written by one callback a turn
(``Subscription.put``/``flush``, ``wsapi._Direct``): a client that never reads, one that
negotiates compression, many at once. A real node (Hardhat, SQLite, aiohttp on loopback),
real clients."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

from sdex.node.events import DIRECT_MOST, encode_json
from sdex.node.wsapi import WS_COALESCE_BUFFER
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_stream import until

WRITER_LIMIT = 1 << 18
"""What aiohttp's websocket writer writes before it waits for the socket (its default)."""


async def silent_client(host: str, port: int) -> tuple[asyncio.StreamReader, Any]:
    """A websocket client that reads the handshake's answer and then nothing more."""
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def test_a_client_that_never_reads_holds_bounded_memory(chain: Chain, tmp_path: Path) -> None:
    """Events published faster than a client reads (it never does): the node's unsent bytes
    to it stay bounded (the direct path's 64 KiB guard and ``DIRECT_MOST`` a turn, then
    aiohttp's flow control), and the subscriber is dropped."""
    cfg = node_config(chain, tmp_path / "n.db")
    async with running_node(cfg) as (node, _api):
        _reader, writer = await silent_client(node.config.host, node.config.port)
        await until(lambda: len(node.events) == 1)
        (sub,) = node.events._subs
        direct = sub.direct
        assert direct is not None
        raw = direct.raw  # type: ignore[attr-defined]
        pad = "x" * 4000
        most = 0
        async with asyncio.timeout(60):
            while sub in node.events._subs and not raw.is_closing():
                for i in range(100):
                    node.events.publish({"type": "test", "i": i, "pad": pad})
                await asyncio.sleep(0)
                most = max(most, raw.get_write_buffer_size())
        event = len(encode_json({"seq": 1, "type": "test", "i": 1, "pad": pad})) + 8
        assert most <= WS_COALESCE_BUFFER + 2 * DIRECT_MOST * event + WRITER_LIMIT, most
        writer.close()
        await until(lambda: len(node.events) == 0)


async def test_compressed_clients_get_every_event_in_order(chain: Chain, tmp_path: Path) -> None:
    """A client that negotiated permessage-deflate: no direct writes (they would be raw,
    uncompressed frames), every event arrives, in order, with one that did not."""
    async with (
        running_node(node_config(chain, tmp_path / "n.db")) as (node, api),
        api.session.ws_connect(api.base + "/v1/ws", compress=15) as zipped,
        api.session.ws_connect(api.base + "/v1/ws") as plain,
    ):
        for ws in (zipped, plain):
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
        await until(lambda: len(node.events) == 2)
        subs = {sub.direct is None for sub in node.events._subs}
        assert subs == {True, False}  # (the compressed one has none)
        n = 3 * DIRECT_MOST
        for i in range(n):
            node.events.publish({"type": "test", "i": i, "pad": "y" * (i * 53 % 2000)})
            if i % 17 == 0:
                await asyncio.sleep(0)
        for ws in (zipped, plain):
            got = [json.loads((await ws.receive(timeout=30)).data) for _ in range(n)]
            assert [e["i"] for e in got] == list(range(n))


async def test_many_subscribers_each_get_every_event_in_order(chain: Chain, tmp_path: Path) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        socks = [await api.session.ws_connect(api.base + "/v1/ws") for _ in range(24)]
        try:
            for ws in socks:
                assert (await ws.receive_json(timeout=10))["type"] == "hello"
            await until(lambda: len(node.events) == len(socks))
            n = 2 * DIRECT_MOST + 5
            for i in range(n):
                node.events.publish({"type": "test", "i": i})
                if i % 3 == 0:
                    await asyncio.sleep(0)
            for ws in socks:
                got = [json.loads((await ws.receive(timeout=30)).data) for _ in range(n)]
                assert [e["i"] for e in got] == list(range(n))
        finally:
            for ws in socks:
                await ws.close()
