"""A websocket client that answers the node's close frame gets its socket closed at once
(user38's trial).

A node stopping with a browser's page open took 1.0 s instead of a few ms (its log:
``stopped in 1.010 s (HTTP server 1.003 s, ...)``): the handler cancelled its reader task,
then called ``ws.close()`` in the same turn, which found the reader still "waiting" and
never saw the client's close frame: it waited its whole close timeout
(``WS_CLOSE_SECONDS``) and ended the socket as abnormal (1006). aiohttp's own client hid it
(it closes the TCP connection right after its answer); a browser answers the close frame
and waits for the server to close the connection, as RFC 6455 (7.1.1) asks.

The client here is that browser, in a few lines over a raw socket, on an event loop of its
own (in-process on the node's loop, the answer's timing hid the defect). The close timeout
is raised to 60 s, so that a node waiting for it is plain: the connection closes only when
the HTTP server cancels the handler, 4 s into the stop.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import threading
import zlib
from pathlib import Path

import pytest

import sdex.node.wsapi as wsapi
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

CLOSE_OPCODE = 0x8
ANSWERED_BOUND = 3.0
"""How long the client waits for the node to close the connection once it answered the
close frame: under the 4 s after which the node's HTTP server cancels a handler still
running at its stop (``shutdown_timeout`` 2 s, then 2 s more), which is what ended a
handler waiting for the (raised) close timeout."""


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One unmasked server frame: (opcode, payload)."""
    head = await reader.readexactly(2)
    opcode, n = head[0] & 0x0F, head[1] & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return opcode, await reader.readexactly(n)


def masked_close(code: int) -> bytes:
    """A client's close frame (clients mask every frame)."""
    mask, payload = os.urandom(4), struct.pack("!H", code)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | CLOSE_OPCODE, 0x80 | len(payload)]) + mask + body


async def browser_like_socket(
    host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open ``/v1/ws`` as a browser does (asking for permessage-deflate) and read the
    hello."""
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        ).encode()
    )
    status = await reader.readline()
    assert b" 101 " in status, status
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    opcode, payload = await read_frame(reader)
    assert opcode == 0x1 and b'"hello"' in inflate(payload), (opcode, payload)
    return reader, writer


def inflate(payload: bytes) -> bytes:
    """A compressed message's text (permessage-deflate: raw deflate, its tail cut)."""
    return zlib.decompressobj(-zlib.MAX_WBITS).decompress(payload + b"\x00\x00\xff\xff")


async def answer_close_then_wait_eof(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> int:
    """Read to the server's close frame, answer it, then wait for the server to close the
    connection; returns the code the server closed with."""
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == CLOSE_OPCODE:
            break
    try:  # (the server closes the TCP connection first; it need not wait for anything now)
        async with asyncio.timeout(ANSWERED_BOUND):
            writer.write(masked_close(1000))
            await writer.drain()
            assert await reader.read() == b""
    except ConnectionResetError:
        pass  # (closed with our answer unread: a reset, as good as an end here)
    except TimeoutError:
        raise AssertionError(
            f"the node did not close the connection within {ANSWERED_BOUND} s of the "
            "client's answer to its close frame"
        ) from None
    writer.close()
    return int(struct.unpack("!H", payload[:2])[0])


def client_of(host: str, port: int, subscribe: bytes | None, ready: threading.Event) -> int:
    """The browser, on an event loop of its own (in this thread), as a browser runs beside a
    node: connect, follow a book if ``subscribe``, signal ``ready``, then answer the node's
    close; returns the code the node closed with."""

    async def run() -> int:
        reader, writer = await browser_like_socket(host, port)
        if subscribe is not None:  # (the page follows a book: its reader has read a message)
            mask = os.urandom(4)
            writer.write(
                bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(subscribe)) + mask
                + bytes(b ^ mask[i % 4] for i, b in enumerate(subscribe))
            )  # fmt: skip
            opcode, payload = await read_frame(reader)
            assert opcode == 0x1, (opcode, payload)  # (the snapshot, compressed in context)
        ready.set()
        return await answer_close_then_wait_eof(reader, writer)

    return asyncio.run(run())


@pytest.mark.parametrize("subscribed", [False, True])
async def test_a_node_stops_at_once_when_its_subscriber_answers_the_close(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subscribed: bool
) -> None:
    monkeypatch.setattr(wsapi, "WS_CLOSE_SECONDS", 60.0)
    cfg = node_config(chain, tmp_path / "n.db")
    sub = (
        '{"op": "subscribe", "channel": "book", '
        f'"baseToken": "{chain.weth.address.lower()}", '
        f'"quoteToken": "{chain.usdc.address.lower()}"}}'
    ).encode()
    ready = threading.Event()
    async with running_node(cfg) as (node, _api):
        host, port = node.config.host, node.config.port  # (the port it bound)
        answered = asyncio.ensure_future(
            asyncio.to_thread(client_of, host, port, sub if subscribed else None, ready)
        )
        await wait_for(lambda: ready.is_set() or answered.done(), timeout=30)
        assert ready.is_set(), answered.result()
    # (the node has stopped, or stops: its close frame, the client's answer, the close)
    async with asyncio.timeout(30):
        assert await answered == 1000
