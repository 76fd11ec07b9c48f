"""The sync JSON-RPC client's plain-http transport (``sdex.chain.lean``, ``http.client``
instead of ``requests``) behaves as the ``requests`` one did: a connection the server closed
while idle is not written to, a non-2xx answer and a refused connection raise ``requests``'
errors, an answer over the size bound is refused, threads never share a connection, and a
proxy of the environment keeps ``requests``."""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests
from aiohttp import web

from sdex.chain import rpc
from sdex.chain.lean import LeanPost
from sdex.errors import RpcError
from tests.nodeutil import free_port, serving
from tests.test_rpc_deadline import dripping_server

TRANSPORTS = ["lean", "requests"]


def _client(url: str, transport: str) -> rpc.Rpc:
    client = rpc.Rpc(url, timeout=5.0)
    assert client._lean is not None  # (loopback, plain http: the lean transport by default)
    if transport == "requests":
        client._lean.close()
        client._lean = None
    return client


@contextmanager
def closing_server() -> Iterator[tuple[str, list[object], threading.Semaphore]]:
    """A loopback HTTP/1.1 server that answers each connection's first request keep-alive
    (no ``Connection: close``) and then closes it, as Node's server does with an idle one;
    the semaphore is released once it closed. Yields its URL, each request's peer."""
    peers: list[object] = []
    closed = threading.Semaphore(0)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            with conn, conn.makefile("rb") as f:
                f.readline()
                length = 0
                while (line := f.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                req_id = json.loads(f.read(length))["id"]
                peers.append(peer)
                body = json.dumps({"jsonrpc": "2.0", "id": req_id, "result": "0x1"}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            closed.release()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/", peers, closed
    finally:
        stop.set()
        t.join(5)
        listener.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_connection_the_server_closed_while_idle_is_not_written_to(transport: str) -> None:
    with closing_server() as (url, peers, closed):
        client = _client(url, transport)
        try:
            for _ in range(4):
                assert client.call("eth_blockNumber") == "0x1"
                assert closed.acquire(timeout=5)  # the server closed it: the next opens anew
        finally:
            client.close()
    assert len(peers) == 4 and len(set(peers)) == 4


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, b"oops", requests.HTTPError),
        (403, b"", requests.HTTPError),
        (200, b"{" * 10, RpcError),  # (not JSON)
        (200, b'{"jsonrpc": "2.0", "id": 1, "result": "' + b"a" * 5000 + b'"}', RpcError),
    ],
)
async def test_bad_answers_raise_as_before(
    monkeypatch: pytest.MonkeyPatch, transport: str, status: int, body: bytes, error: type
) -> None:
    monkeypatch.setattr(rpc, "MAX_RESPONSE", 4096)  # (the last answer is over it)

    async def handle(r: web.Request) -> web.Response:
        await r.read()
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/", handle)
    async with serving(app) as url:
        client = _client(url + "/", transport)
        try:
            with pytest.raises(error):
                await asyncio.to_thread(client.call, "eth_blockNumber")
            # the client is usable after it (the connection of a refused answer not reused)
            with pytest.raises(error):
                await asyncio.to_thread(client.call, "eth_blockNumber")
        finally:
            client.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_connection_raises_requests_connection_error(transport: str) -> None:
    client = _client(f"http://127.0.0.1:{free_port()}/", transport)
    try:
        with pytest.raises(requests.ConnectionError):
            client.call("eth_blockNumber")
    finally:
        client.close()


async def test_threads_calling_at_once_never_share_a_connection() -> None:
    async def handle(r: web.Request) -> web.Response:
        req = await r.json()
        await asyncio.sleep(0.001)  # (answers overlap)
        return web.json_response({"jsonrpc": "2.0", "id": req["id"], "result": req["params"]})

    app = web.Application()
    app.router.add_post("/", handle)
    async with serving(app) as url:
        client = _client(url + "/", "lean")

        def calls(k: int) -> list[object]:
            return [client.call("echo", k, i) for i in range(40)]

        try:
            with ThreadPoolExecutor(8) as pool:
                got = await asyncio.to_thread(lambda: list(pool.map(calls, range(8))))
        finally:
            client.close()
    assert got == [[[k, i] for i in range(40)] for k in range(8)]


@pytest.mark.parametrize(
    ("url", "env", "lean"),
    [
        ("http://127.0.0.1:8545", {}, True),
        ("http://127.0.0.1:8545/rpc?key=1", {}, True),
        ("https://127.0.0.1:8545", {}, False),
        ("http://127.0.0.1:8545", {"HTTP_PROXY": "http://10.0.0.1:3128"}, False),
        ("http://127.0.0.1:8545", {"ALL_PROXY": "http://10.0.0.1:3128"}, False),
        (
            "http://127.0.0.1:8545",
            {"HTTP_PROXY": "http://10.0.0.1:3128", "NO_PROXY": "127.0.0.1"},
            True,
        ),
    ],
)
def test_the_lean_transport_only_where_no_proxy_or_tls_is_involved(
    monkeypatch: pytest.MonkeyPatch, url: str, env: dict[str, str], lean: bool
) -> None:
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert LeanPost.serves(url) is lean
    client = rpc.Rpc(url)
    try:
        assert (client._lean is not None) is lean
    finally:
        client.close()


def test_a_connection_past_descriptor_1024_is_reused() -> None:
    """``select`` cannot watch a descriptor past 1024 (a node serving many clients has them):
    the check before reuse must not take every such connection for dropped."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"the descriptor limit {hard} is below 1100")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    low = [socket.socket() for _ in range(1030)]  # the client's socket gets a high number
    try:
        with dripping_server(["ok"] * 3) as (url, peers):
            client = _client(url, "lean")
            try:
                for _ in range(3):
                    assert client.call("eth_blockNumber") == "0x1"
            finally:
                client.close()
        assert len(peers) == 3 and len(set(peers)) == 1
    finally:
        for s in low:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
