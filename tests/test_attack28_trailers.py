"""attack28: a chunked body's trailer is a head too, bounded as one.

``HeadBoundedHandler`` (attack27) counted a request's head bytes, not those sent while a
body was due: a chunked body's trailer (header lines after its last chunk) went uncounted,
and aiohttp's parser kept them. One connection sending ``POST /v1/orders`` with a 2-byte
chunked body and then trailer lines of 8,000 bytes without end held ~10 MB of a live node
(RSS 98 -> 108 MB, 9-13 MB read before the node stopped reading, the connection held past
35 s); 20 such connections took a node from 78 MB to 278 MB of RSS, kept after they closed
(the bound of 4,096 connections: ~40 GB). Now the bytes of a body's framing and trailer,
past what its chunks carry, are bounded like a head: 431 and closed.

Real aiohttp servers (``BoundedRunner``, as the node serves) on loopback, raw sockets."""

from __future__ import annotations

import asyncio
import contextlib

from sdex.node.headlimit import MAX_HEAD
from tests.test_attack27_heads import LINE, echoed, server

CHUNKED = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


async def test_a_trailer_past_the_bound_is_answered_431_and_closed() -> None:
    """200 trailer lines of 8,000 bytes after a 2-byte chunked body, never ended: cut after
    about ``MAX_HEAD`` bytes (before: read on, no answer within 10 s)."""
    async with server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(CHUNKED + b"2\r\n{}\r\n0\r\n")
        sent = 0
        with contextlib.suppress(ConnectionError):
            for i in range(200):
                writer.write(b"X-T%d: " % i + b"t" * LINE + b"\r\n")
                sent += LINE
                await writer.drain()
        try:
            got = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as e:
            raise AssertionError(f"no answer after {sent} bytes of trailer: {e!r}") from None
        finally:
            writer.close()
        assert got.startswith(b"HTTP/1.1 431"), got
        assert b"connection: close" in got.lower()


async def test_chunked_bodies_with_small_trailers_still_pass() -> None:
    """A 600 KB chunked body in chunks of 7,000 bytes and of 100 bytes, each with a 2 KB
    trailer: served as before (framing is not counted against the body's own bytes)."""
    async with server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b"x" * 600_000
        for size in (7_000, 100):
            writer.write(CHUNKED)
            for i in range(0, len(body), size):
                part = body[i : i + size]
                writer.write(b"%x\r\n" % len(part) + part + b"\r\n")
                if i % (50 * size) == 0:
                    await writer.drain()
            writer.write(b"0\r\nX-Sum: " + b"s" * 2_000 + b"\r\n\r\n")
            await writer.drain()
            assert await echoed(reader) == b"600000"
        writer.close()
        assert MAX_HEAD < 600_000
