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


class Raw:
    """Raw connections to a node's ``port``, every one closed on exit (``async with``): a
    writer dropped unclosed is a ResourceWarning, its socket open until it is collected."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.writers: list[asyncio.StreamWriter] = []

    async def connect(self, ip: str = "127.0.0.1") -> Conn:
        conn = await connect(self.port, ip)
        self.writers.append(conn[1])
        return conn

    async def slow_body(self, ip: str) -> Conn:
        """A POST whose headers promise 60,000 bytes of body, then a byte of it: its request
        is in progress (a handler reads the body) for as long as the client likes."""
        conn = await self.connect(ip)
        conn[1].write(
            b"POST /v1/orders HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
            b"Content-Length: 60000\r\n\r\n{"
        )
        await conn[1].drain()
        return conn

    async def __aenter__(self) -> Raw:
        return self

    async def __aexit__(self, *_: object) -> None:
        for writer in self.writers:
            writer.close()
        async with asyncio.timeout(10):  # (each ends at the loop's next turn)
            await asyncio.gather(*(w.wait_closed() for w in self.writers), return_exceptions=True)


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


async def closed(conn: Conn, bound: float = 5) -> bool:
    """The node closed ``conn`` (EOF within ``bound`` seconds)."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        return await asyncio.wait_for(conn[0].read(), bound) == b""
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
    and the websockets are untouched. Past 6 in all, none idle: a newcomer from another
    address takes the oldest of the address holding the most (4 busy), and once none holds
    two more than the newcomer's, 503. A freed slot is taken again."""
    cfg = node_config(chain, tmp_path / "n.db", max_http_per_client=4, max_http=6)
    async with running_node(cfg) as (node, api), Raw(node.config.port) as raw:
        idle = [await raw.connect() for _ in range(4)]
        for conn in idle:
            assert (await get(conn))[0] == 200  # admitted; idle now
        fifth = await raw.connect()
        assert (await get(fifth))[0] == 200
        assert await closed(idle[0])  # the oldest idle one made room
        async with websockets(api.base, "127.0.0.1", 4) as subs:
            assert all([await closed(c) for c in (*idle[1:], fifth)])  # each made room too
            refused = await raw.connect()
            status, body = await answer(refused[0])
            assert (status, body["code"], body["validationErrors"]) == (429, 103, [])
            assert await closed(refused)
            assert "from this address: at most 4" in body["reason"]
            # 6 in all, every one busy: 127.0.0.1 (4) gives its oldest to the newcomer .3
            async with websockets(api.base, "127.0.0.2", 2), websockets(api.base, "127.0.0.3", 1):
                assert await wait_closed(subs[0]) and all(not ws.closed for ws in subs[1:])
                # 3 busy from 127.0.0.1, 2 from .2, 1 from .3: none holds 2 more than .2
                refused = await raw.connect("127.0.0.2")
                status, body = await answer(refused[0])
                assert (status, body["code"]) == (503, 103) and "at most 6" in body["reason"]
                assert await closed(refused)
            assert all(not ws.closed for ws in subs[1:])
            other = await raw.connect("127.0.0.3")  # the freed slots
            assert (await get(other))[0] == 200
        again = await raw.connect()
        assert (await get(again))[0] == 200


async def wait_closed(ws: Any) -> bool:
    """The node closed the websocket ``ws`` (within 5 s)."""
    with contextlib.suppress(TimeoutError):
        await ws.receive(timeout=5)  # (the close frame, or the socket's end)
    return bool(ws.closed)


async def test_a_few_addresses_with_slow_bodies_do_not_lock_out_the_others(
    chain: Chain, tmp_path: Path
) -> None:
    """Two addresses each at its own bound (4) of requests in progress, bodies trickled, fill
    the node (8 in all). A client from a third address is served: the heaviest gives up its
    oldest. Before, every other client got a 503 for as long as the bodies trickled."""
    cfg = node_config(chain, tmp_path / "n.db", max_http_per_client=4, max_http=8)
    async with running_node(cfg) as (node, api), Raw(node.config.port) as raw:
        slow = [await raw.slow_body(ip) for ip in ("127.0.0.1", "127.0.0.2") for _ in range(4)]
        async with contextlib.AsyncExitStack() as stack:
            for ip in ("127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"):  # (busy: none idle)
                await stack.enter_async_context(websockets(api.base, ip, 1))  # (got its hello)
            # each took the oldest of the heaviest: .1 (4), .2 (4), .1 (3), .2 (3)
            # (all at once: each still open takes the whole bound to say so)
            gone = list(await asyncio.gather(*(closed(c) for c in slow)))
            assert gone == [True, True, False, False, True, True, False, False], gone
            conn = await raw.connect("127.0.0.1")  # 2, 2, 1, 1, 1, 1: .1 holds the most
            assert (await answer(conn[0]))[0] == 503


async def test_an_idle_connection_is_closed_after_the_idle_timeout(
    chain: Chain, tmp_path: Path
) -> None:
    """One that never sent a request, and one between two requests: both closed after
    ``http_idle_timeout`` (aiohttp's default held them for an hour)."""
    cfg = node_config(chain, tmp_path / "n.db", http_idle_timeout=0.5)
    async with running_node(cfg) as (node, _api), Raw(node.config.port) as raw:
        silent = await raw.connect()
        used = await raw.connect()
        assert (await get(used))[0] == 200
        assert await closed(silent) and await closed(used)


async def test_a_body_that_does_not_come_in_time_is_a_408(chain: Chain, tmp_path: Path) -> None:
    """A body promised by Content-Length, or chunked, sent a byte at a time: 408 once the
    node's ``body_timeout`` (here 1 s) passed, SRA body code 101, and the connection ends
    once the rest of the body was read as long again (aiohttp's 10 s linger, before).
    Before, the handler waited for it for as long as the client kept sending."""
    cfg = node_config(chain, tmp_path / "n.db", body_timeout=1.0)
    async with running_node(cfg) as (node, _api), Raw(node.config.port) as raw:
        for chunked in (False, True):
            if chunked:
                reader, writer = await raw.connect()
                writer.write(
                    b"POST /v1/orders HTTP/1.1\r\nHost: node\r\nContent-Type: application/json"
                    b"\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
                )
            else:
                reader, writer = await raw.slow_body("127.0.0.1")
            start = asyncio.get_running_loop().time()
            for _ in range(3):  # (more of it keeps coming, slowly)
                writer.write(b"1\r\n \r\n" if chunked else b" ")
                await asyncio.sleep(0.2)
            status, body = await answer(reader)
            assert (status, body["code"]) == (408, 101), body
            assert "not received within 1 s" in body["reason"]
            assert asyncio.get_running_loop().time() - start < 10  # (1 s; slack for load)
            assert await closed((reader, writer), bound=5)  # (after its 1 s linger; was 10 s)


async def test_a_chunked_body_that_came_whole_is_bounded_and_read(
    chain: Chain, tmp_path: Path
) -> None:
    """A body without Content-Length (chunked) that came whole with its headers, as a small
    one does (read at once, no timer: ``sdex.httpkit.read_bounded``): over the node's
    ``max_body`` a 413 (SRA code 101) and nothing stored; within it read and judged (a good
    order: 201, stored)."""
    cfg = node_config(chain, tmp_path / "n.db", max_body=2048)
    order = chain.order(1, chain.weth, 10**18, chain.usdc, 3000 * 10**6)
    good = json.dumps(chain.sign(order).to_json()).encode()
    assert len(good) < 2048
    async with running_node(cfg) as (node, _api), Raw(node.config.port) as raw:
        for body, status in ((b'{"pad": "' + b"x" * 3000 + b'"}', 413), (good, 201)):
            reader, writer = await raw.connect()
            writer.write(
                b"POST /v1/orders HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            )
            got, answered = await answer(reader)
            assert got == status, answered
            assert status != 413 or answered["code"] == 101, answered
        assert len(node.records) == 1
