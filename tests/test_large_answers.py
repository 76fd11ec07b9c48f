"""Large answers (``sdex.node.sending``): let go of once written, bounded while written.

Before, aiohttp kept each keep-alive connection's last answer, body and all, until its next
request: connections that read a ~1 MB listing page and stayed idle held one each (300 such
connections: +415 MiB, docs in the module)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from sdex.node.sending import BIG_ANSWER, AnswerSlots, bound_answers
from tests.conftest import Chain
from tests.nodeutil import free_port, node_config, running_node
from tests.test_http_conns import answer, connect, get


def held_answers() -> int:
    """Answers of ``BIG_ANSWER`` bytes or more alive in this process, bodies and all."""
    gc.collect()
    return sum(
        isinstance(o, web.Response) and isinstance(o.body, bytes) and len(o.body) >= BIG_ANSWER
        for o in gc.get_objects()
    )


async def test_idle_connections_do_not_keep_their_last_large_answer(
    chain: Chain, tmp_path: Path
) -> None:
    """A listing page over ``BIG_ANSWER`` (70 records), read whole by 10 keep-alive
    connections that then stay idle: none of the 10 answers' bodies is still held (all 10
    were)."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        weth, usdc = chain.weth, chain.usdc
        for i in range(70):  # (about 1 KB each in a listing)
            signed = chain.sign(chain.order(1 + i % 4, weth, 10**15, usdc, 3_000_000 + i))
            assert (await api.post_order(signed))[0] == 201
        conns = [await connect(node.config.port) for _ in range(10)]
        for conn in conns:
            status, body = await get(conn, "/v1/orders?perPage=100")
            assert status == 200 and len(body["records"]) == 70
        assert held_answers() == 0
        status, body = await get(conns[0], "/v1/orders?perPage=100")  # (still keep-alive)
        assert status == 200 and len(body["records"]) == 70
        for _, writer in conns:
            writer.close()


@contextlib.asynccontextmanager
async def small_buffer_server(slots: AnswerSlots, timeout: float) -> AsyncIterator[int]:
    """An aiohttp app answering 1 MB to ``GET /``, its big answers bounded by ``slots``; its
    accepted sockets have a 4 KiB send buffer (inherited from the listener), so an answer the
    client does not read stays in the transport as it would on a slow link."""

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 1_000_000, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", big)
    bound_answers(app, slots, timeout)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    listener.bind(("127.0.0.1", free_port()))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    try:
        yield listener.getsockname()[1]
    finally:
        await runner.cleanup()


async def unread(port: int, ip: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``GET /`` on a connection with a small receive buffer, never read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((ip, 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"GET / HTTP/1.1\r\nHost: node\r\n\r\n")
    return reader, writer


async def until(check: object, bound: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + bound
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "not within the bound"
        await asyncio.sleep(0.02)


async def test_unread_large_answers_are_bounded_in_number_and_time() -> None:
    """One client address has 1 large answer being written at once, 2 in all: another from
    that address or past 2 is a 503 at once; one not taken within the send timeout closes its
    connection and frees its slot. (Before, each was held for as long as the client liked.)"""
    slots = AnswerSlots(per_client=1, total=2)
    async with small_buffer_server(slots, timeout=1.0) as port:
        first = await unread(port, "127.0.0.1")
        await until(lambda: len(slots) == 1)
        again = await connect(port, "127.0.0.1")
        again[1].write(b"GET / HTTP/1.1\r\nHost: node\r\n\r\n")
        status, body = await answer(again[0])
        assert (status, body["code"]) == (503, 103) and "this address" in body["reason"]
        second = await unread(port, "127.0.0.2")
        await until(lambda: len(slots) == 2)
        third = await connect(port, "127.0.0.3")
        third[1].write(b"GET / HTTP/1.1\r\nHost: node\r\n\r\n")
        assert (await answer(third[0]))[0] == 503
        await until(lambda: len(slots) == 0 and slots.unread == 2)  # the send timeout, 1 s
        for _, writer in (first, again, second, third):
            writer.close()


async def test_a_client_gone_mid_answer_is_no_error(caplog: pytest.LogCaptureFixture) -> None:
    """Three clients reset their connections while their large answer is being written: no
    ERROR logged (aiohttp's own writer takes a client gone as nothing to report; written
    here, each reset logged "Error handling request" with its traceback: a client asking
    pages and resetting could fill the node's log), their slots are free, and the next
    client reads its answer whole."""
    slots = AnswerSlots(per_client=4, total=8)
    caplog.set_level(logging.INFO)
    async with small_buffer_server(slots, timeout=30.0) as port:
        gone = [await unread(port, "127.0.0.1") for _ in range(3)]
        await until(lambda: len(slots) == 3)
        for _, writer in gone:  # (a reset: SO_LINGER 0, then close)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        await until(lambda: len(slots) == 0)
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nHost: node\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        assert len(await asyncio.wait_for(reader.readexactly(1_000_000), 10)) == 1_000_000
        writer.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
