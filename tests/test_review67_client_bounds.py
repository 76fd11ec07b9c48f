"""review67: a hostile node's answer to a wallet command (``NodeClient``) is bounded in time
whatever phase it trickles, and a broken answer is a typed error, also in anvil64's probe
(``NodeClient._speaks_json_rpc``, asked of a URL that answered 404 without JSON).

Before: the status line and headers were read with ``requests``' per-read timeout only (a node
sending a header byte every 0.2 s held ``NodeClient(timeout=1.0).health()`` 20 s, as long as it
cared to), and urllib3's own errors of a body read (a broken chunked body) came out of the
client as a traceback (``sdex book`` printed ``urllib3.exceptions.ProtocolError``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from sdex.client import NodeApiError, NodeClient, NodeUnreachableError
from tests.fakenode import run_cli

Send = Callable[[asyncio.StreamWriter], Awaitable[None]]

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
BROKEN = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc"
TRICKLE_S = 30.0
"""How long a trickled answer takes in all (far past any bound asked here)."""


async def _trickle_head(w: asyncio.StreamWriter) -> None:
    w.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(int(TRICKLE_S / 0.2)):  # a header's name, a byte every 0.2 s
        w.write(b"X")
        await w.drain()
        await asyncio.sleep(0.2)
    w.write(b": y\r\nContent-Length: 2\r\n\r\n{}")


async def _send(data: bytes, w: asyncio.StreamWriter) -> None:
    w.write(data)


@asynccontextmanager
async def raw_node(get: bytes | Send, post: bytes | Send) -> AsyncIterator[str]:
    """A loopback server answering every GET with ``get`` and every POST with ``post`` (bytes
    sent as they are, or a coroutine writing them)."""

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            head = await r.readuntil(b"\r\n\r\n")
            said = get if head.startswith(b"GET") else post
            await (_send(said, w) if isinstance(said, bytes) else said(w))
            await w.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            w.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def _timed(client: NodeClient) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        await asyncio.to_thread(client.health)
    except Exception as e:  # (the test says which it must be)
        return e, time.monotonic() - started
    return None, time.monotonic() - started


async def test_a_node_trickling_its_headers_is_cut_at_the_clients_timeout() -> None:
    async with raw_node(_trickle_head, _trickle_head) as url:
        err, took = await _timed(NodeClient(url, timeout=1.0))
    assert isinstance(err, NodeUnreachableError), repr(err)
    assert "did not answer GET /health within 1s" in str(err)
    assert took < TRICKLE_S / 2, took  # (before: the whole trickle, 30 s)


async def test_the_chain_probe_of_a_404_is_bounded_in_time() -> None:
    """A node answering 404 without JSON, then trickling the probe's answer: the 404 said,
    within the client's timeout and the probe's (at least a second)."""
    async with raw_node(NOT_FOUND, _trickle_head) as url:
        err, took = await _timed(NodeClient(url, timeout=1.0))
    assert isinstance(err, NodeApiError) and err.status == 404, repr(err)
    assert took < TRICKLE_S / 2, took


@pytest.mark.parametrize("probed", [False, True], ids=["answer", "probe"])
async def test_a_broken_answer_is_a_typed_error(probed: bool) -> None:
    """A chunked body that breaks off, as the answer (the node unreachable, said) or as the
    probe's (a 404 is a 404): never urllib3's exception out of the client or the CLI."""
    get = NOT_FOUND if probed else BROKEN
    async with raw_node(get, BROKEN) as url:
        err, _ = await _timed(NodeClient(url, timeout=5.0))
        r = await asyncio.to_thread(run_cli, "book", "--node", url)
    if probed:
        assert isinstance(err, NodeApiError) and err.status == 404, repr(err)
    else:
        assert isinstance(err, NodeUnreachableError), repr(err)
        assert "broke off" in str(err), str(err)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and "urllib3" not in r.output, r.output
