"""Hostile JSON-RPC endpoints against the sync client's two transports (``sdex.chain.lean``
and ``requests``): every answer byte is bounded. Each case is a raw loopback server that
reads one request and answers with the bytes the row gives, then (for the streaming rows)
as many filler bytes as the client will take."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from sdex.chain import rpc
from sdex.errors import RpcError, RpcTimeout
from tests.test_rpc_deadline import _read_request
from tests.test_rpc_lean import TRANSPORTS, _client

FLOOD = 48 * 1024 * 1024
"""Filler bytes a streaming row offers: well past the bound the test sets (64 KiB) and past
what loopback socket buffers hold, so a client that reads to the end is told apart."""
LIMIT = 64 * 1024


@contextmanager
def hostile_server(head: bytes, flood: bool) -> Iterator[tuple[str, dict[str, int]]]:
    """A server answering its first request with ``head`` and then, when ``flood``, filler
    until the client stops reading and closes, or ``FLOOD`` bytes went. Yields the URL and
    a dict whose "sent" is the bytes the client took in all."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    seen = {"sent": 0, "done": 0}
    finished = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            finished.set()
            return
        conn.settimeout(10)
        with conn, conn.makefile("rb") as f:
            try:
                _read_request(f)
                conn.sendall(head)
                chunk = b"7" * (1 << 20)
                while flood and seen["sent"] < FLOOD:
                    conn.sendall(chunk)
                    seen["sent"] += len(chunk)
                seen["done"] = 1
            except OSError:
                pass
        finished.set()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/", seen
    finally:
        listener.close()
        finished.wait(15)
        t.join(5)


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
STREAMING = [
    # (name, head): each followed by filler the client should stop taking at the bound
    ("chunk size -1 (read to the end of the stream)", CHUNKED + b"-1\r\n"),
    ("chunk size -ffff", CHUNKED + b"-ffff\r\n"),
    ("no length, no chunks (read to close)", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
    ("a length far past the bound", b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n"),
    ("one chunk far past the bound", CHUNKED + b"ffffffffffff\r\n"),
]


def _call_fails(url: str, transport: str) -> None:
    """One call through ``transport`` to the hostile server at ``url`` ends in one of the
    errors the client's callers handle."""
    client = _client(url, transport)
    try:
        with pytest.raises((RpcError, RpcTimeout, requests.RequestException)):
            client.call("eth_blockNumber")
    finally:
        client.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("name", "head"), STREAMING, ids=[r[0] for r in STREAMING])
def test_an_endless_answer_is_read_no_further_than_the_bound(
    transport: str, name: str, head: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rpc, "MAX_RESPONSE", LIMIT)
    with hostile_server(head, flood=True) as (url, seen):
        _call_fails(url, transport)
    assert not seen["done"], f"{name}: the client read all {FLOOD} bytes offered"


BAD_HEADS = [
    (
        "a redirect",
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n",
    ),
    ("101 headers", b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"Content-Length: 2\r\n\r\n{}"),
    ("a header line of 70 kB", b"HTTP/1.1 200 OK\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n"),
    ("a chunk line of 70 kB", CHUNKED + b"1" * 70_000 + b"\r\n"),
    ("a chunk size not hex", CHUNKED + b"zz\r\n{}\r\n0\r\n\r\n"),
    ("a status line of junk", b"SSH-2.0-OpenSSH\r\n\r\n"),
    ("the body cut short", b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id":'),
    ("a 500 answer", b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}"),
    ("valid JSON of the wrong shape", b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnull"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("name", "head"), BAD_HEADS, ids=[r[0] for r in BAD_HEADS])
def test_a_malformed_answer_is_one_of_the_client_errors(
    transport: str, name: str, head: bytes
) -> None:
    with hostile_server(head, flood=False) as (url, _):
        _call_fails(url, transport)
