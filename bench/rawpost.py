"""A lean keep-alive HTTP/1.1 poster for the benchmarks' open-loop order posts.

On 2 cores the poster shares the machine with the nodes it measures: aiohttp's client
spends ~200 µs of CPU on a POST (URL and header objects, tracing hooks, its response
parser and stream reader; ``bench/client_cost.py``), ~0.2 of a core at 1,000 orders/s,
taken from the nodes. This one writes the bytes aiohttp writes (the same request line
and headers, so the node parses the same request) from a prepared prefix and reads the
answer's status line, ``Content-Length`` and body, nothing more: each node still receives,
checks and answers every order over HTTP, and each answer is still read whole.

Connections are pooled per URL like aiohttp's connector: a post takes an idle one of its
URL or opens one, and puts it back after a complete answer unless the node said
``Connection: close``. Only for the benchmarks: it trusts its loopback server to speak
HTTP/1.1 with a ``Content-Length`` (aiohttp's ``json_response`` does); anything else is an
error (``RawPostError``), and the connection is closed.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp

MAX_HEAD = 64 * 1024
"""An answer's headers past this are an error (a loopback node's are ~200 bytes)."""
MAX_BODY = 1024 * 1024
"""An answer's body past this is an error (an order's answer is ~1 KB)."""


class RawPostError(Exception):
    """An answer this client cannot read (no ``Content-Length``, too big, cut short)."""


class _Conn(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.need = -1  # the whole answer's length once its head was read
        self.status = 0
        self.close_after = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        w = self.waiter
        if w is None or w.done():
            return
        try:
            done = self._parse()
        except RawPostError as e:
            w.set_exception(e)
            return
        if done is not None:
            w.set_result(done)

    def _parse(self) -> tuple[int, bytes, bool] | None:
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    raise RawPostError("answer head too long")
                return None
            head = bytes(self.buf[:end]).lower()
            try:
                self.status = int(head[9:12])
                start = head.index(b"\r\ncontent-length:") + 17
                length = int(head[start : head.index(b"\r\n", start)])
            except ValueError:
                raise RawPostError(f"unreadable answer head: {head[:200]!r}") from None
            if not 0 <= length <= MAX_BODY:
                raise RawPostError(f"answer body of {length} bytes")
            self.close_after = b"\r\nconnection: close" in head
            self.need = end + 4 + length
            self.body_at = end + 4
        if len(self.buf) < self.need:
            return None
        if len(self.buf) > self.need:
            raise RawPostError("bytes after the answer")
        body = bytes(self.buf[self.body_at :])
        self.buf.clear()
        self.need = -1
        return self.status, body, self.close_after

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        w = self.waiter
        if w is not None and not w.done():
            w.set_exception(RawPostError(f"connection lost: {exc!r}"))


class RawPoster:
    """``await post(url, path, body)`` -> (status, body); ``close()`` when done."""

    def __init__(self, timeout: float = 60.0, content_type: str = "application/json") -> None:
        self.timeout = timeout
        self.content_type = content_type
        self.idle: dict[str, list[_Conn]] = {}
        self.open: set[_Conn] = set()
        self.heads: dict[tuple[str, str], bytes] = {}

    def _head(self, url: str, path: str) -> bytes:
        """The request's line and headers up to ``Content-Length``'s value: the headers
        aiohttp's client sends (``Host``, ``Accept``, ``Accept-Encoding``, ``User-Agent``,
        ``Content-Length``, ``Content-Type``), so the node parses what it parsed before."""
        key = (url, path)
        head = self.heads.get(key)
        if head is None:
            host = urlsplit(url).netloc
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n"
                f"Accept-Encoding: gzip, deflate\r\n"
                f"User-Agent: Python/3.11 aiohttp/{aiohttp.__version__}\r\n"
                f"Content-Type: {self.content_type}\r\nContent-Length: "
            ).encode()
            self.heads[key] = head
        return head

    async def _conn(self, url: str) -> _Conn:
        idle = self.idle.get(url)
        while idle:
            c = idle.pop()
            if not c.lost:
                return c
            self.open.discard(c)
        u = urlsplit(url)
        loop = asyncio.get_running_loop()
        _, c = await loop.create_connection(_Conn, u.hostname, u.port)
        self.open.add(c)
        return c

    async def post(self, url: str, path: str, body: bytes) -> tuple[int, bytes]:
        c = await self._conn(url)
        assert c.transport is not None
        loop = asyncio.get_running_loop()
        c.waiter = w = loop.create_future()
        c.transport.write(b"%s%d\r\n\r\n%s" % (self._head(url, path), len(body), body))
        timer = loop.call_later(
            self.timeout,
            lambda: w.done() or w.set_exception(TimeoutError("no answer")),
        )
        try:
            status, answer, close = await w
        except BaseException:
            self._drop(c)
            raise
        finally:
            timer.cancel()
            c.waiter = None
        if close or c.lost:
            self._drop(c)
        else:
            self.idle.setdefault(url, []).append(c)
        return status, answer

    def _drop(self, c: _Conn) -> None:
        self.open.discard(c)
        if c.transport is not None:
            c.transport.close()

    def close(self) -> None:
        for c in list(self.open):
            self._drop(c)
        self.idle.clear()
