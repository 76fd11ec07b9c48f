"""attack27: a request head is bounded in bytes, not only in lines and fields.

aiohttp bounds a head at 128 header lines of 8,190 bytes each: about 1 MB, which it keeps
(raw and decoded) until the head ends. A client that sends 127 such lines and never ends its
head holds that memory for the node's idle timeout (30 s), per connection: 1,000 such
connections from 10 loopback addresses took a node from 411 MB to 2,093 MB of RSS (and it
never gave it back); at the bound of 4,096 connections, ~7 GB. Now a head past
``sdex.node.headlimit.MAX_HEAD`` bytes is answered 431 and closed at once.

Real aiohttp servers (``BoundedRunner``, as the node serves) on loopback, raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from sdex.node.conns import BoundedRunner, ConnectionSlots

LINE = 8000
"""A header line's value: under aiohttp's 8,190 bytes a field."""


@contextlib.asynccontextmanager
async def server() -> AsyncIterator[int]:
    """A ``BoundedRunner`` (idle timeout 60 s: longer than any wait here) with ``GET /`` and
    ``POST /echo`` (the body's length): its port."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    app = web.Application(client_max_size=1 << 20)
    app.router.add_get("/", hello)
    app.router.add_post("/echo", echo)
    runner = BoundedRunner(app, ConnectionSlots(64, 256), idle_timeout=60)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()  # (bound at once: nothing takes it first)
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def send_head(port: int, lines: int, end: bool) -> tuple[bytes, bool]:
    """Send a GET head of ``lines`` header lines of ``LINE`` bytes, ended or not: what the
    server answers within 10 s, and whether it then closed the connection."""
    return await send_lines(port, b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-", lines, end)


async def send_lines(
    port: int, start: bytes, name: bytes, lines: int, end: bool
) -> tuple[bytes, bool]:
    """``start``, then ``lines`` header lines (``name`` and a number, ``LINE`` bytes of
    value), then an empty line if ``end``: ``answered``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(start)
        for i in range(lines):
            writer.write(name + b"%d: " % i + b"v" * LINE + b"\r\n")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        if end:
            writer.write(b"\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await answered(reader)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_a_head_past_the_bound_is_answered_431_and_closed() -> None:
    """127 lines of 8,000 bytes, the head never ended: answered 431 and closed, not held
    for the idle timeout (before: no answer within 10 s, the ~1 MB kept)."""
    async with server() as port:
        status, closed = await send_head(port, 127, end=False)
        assert status.startswith(b"HTTP/1.1 431"), status
        assert closed


async def test_many_heads_past_the_bound_are_each_cut() -> None:
    """Twenty such connections at once: each is answered 431, none held."""
    async with server() as port:
        got = await asyncio.gather(*(send_head(port, 40, end=False) for _ in range(20)))
        assert [s[:12] for s, _ in got] == [b"HTTP/1.1 431"] * 20


async def test_heads_under_the_bound_bodies_and_pipelines_still_pass() -> None:
    """A 24 KB head (a browser's cookies), a 600 KB body sent in pieces and 20 pipelined
    requests are served as before: a body is not counted as head, nor are heads summed."""
    async with server() as port:
        status, _ = await send_head(port, 3, end=True)
        assert status == b"HTTP/1.1 200 OK"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b"x" * 600_000
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 7_000):
            writer.write(body[i : i + 7_000])
            await writer.drain()
        assert await echoed(reader) == b"600000"
        one = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 2_000 + b"\r\n\r\n"
        writer.write(one * 20)
        await writer.drain()
        for _ in range(20):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200"), head
            assert await asyncio.wait_for(reader.readexactly(2), 10) == b"hi"
        writer.close()


async def send_trailers(port: int, lines: int) -> tuple[bytes, bool]:
    """A chunked POST whose body ends (``0``) and whose trailer section of ``lines`` lines of
    ``LINE`` bytes never does: what the server answers within 10 s, and whether it closed."""
    return await send_trailers_to(port, "/echo", lines)


async def answered(reader: asyncio.StreamReader) -> tuple[bytes, bool]:
    """The answer's status line and whether it closes the connection; ``b""`` if none came
    within 10 s (or the connection closed first)."""
    try:
        got = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        return b"", False
    return got.split(b"\r\n", 1)[0], b"connection: close" in got.lower()


async def echoed(reader: asyncio.StreamReader) -> bytes:
    """A 200 answer's body (the echo server's: the length of the body it read)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200"), head
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return await asyncio.wait_for(reader.readexactly(length), 10)


async def send_trailers_to(port: int, path: str, lines: int) -> tuple[bytes, bool]:
    """``send_trailers`` to ``path``."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    start = head.encode() + b"Content-Type: application/json\r\n\r\n5\r\nhello\r\n0\r\n"
    return await send_lines(port, start, b"X-T", lines, end=False)


async def test_trailers_past_the_bound_are_answered_431_and_closed() -> None:
    """review28: a chunked body's trailer section is parsed and kept like a head (aiohttp
    takes 128 fields of 8,190 bytes, head and trailers together), but a body was due, so
    none of it was counted: 100 lines of 8,000 bytes never ended were held for the body
    timeout, the attack the bound closed. Now counted: bytes that add nothing to a body."""
    async with server() as port:
        status, closed = await send_trailers(port, 100)
        assert status.startswith(b"HTTP/1.1 431"), status
        assert closed


async def test_chunked_bodies_in_small_chunks_still_pass() -> None:
    """600 KB in chunks of 50 bytes (framing ~10% of the bytes, 70 KB in all) and a short
    trailer section: served, its framing not counted as a head."""
    async with server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(600_000 // 50):
            writer.write(b"32\r\n" + b"x" * 50 + b"\r\n")
        writer.write(b"0\r\nX-Sum: 1\r\n\r\n")
        await writer.drain()
        assert await echoed(reader) == b"600000"
        writer.close()
