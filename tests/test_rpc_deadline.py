"""The sync JSON-RPC client ends every call by one deadline: an endpoint that drips its
answer (headers or body), each byte within the per-read timeout, is answered with
``RpcTimeout`` within the call's bound, and its connection is not reused."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from sdex.chain.rpc import Rpc
from sdex.errors import RpcError, RpcTimeout

DRIP = 0.05
"""Seconds between two bytes of a dripped answer (far within any read timeout here)."""


def _answer(req_id: object) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": req_id, "result": "0x1"}).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _read_request(f: socket.SocketIO | object) -> object | None:
    """One HTTP request's JSON-RPC id from the buffered socket file ``f``; None at EOF."""
    length = 0
    line = f.readline()  # type: ignore[attr-defined]
    if not line:
        return None
    while (line := f.readline()) not in (b"\r\n", b""):  # type: ignore[attr-defined]
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return json.loads(f.read(length))["id"]  # type: ignore[attr-defined]


@contextmanager
def dripping_server(
    plan: list[str], tls: ssl.SSLContext | None = None
) -> Iterator[tuple[str, list[object]]]:
    """A loopback HTTP/1.1 server (HTTPS with the server context ``tls``) answering its
    requests, in order, as ``plan`` says: "ok" (at once, keep-alive), "headers" (a status
    line then header bytes dripped for ever), "body" (headers, then body bytes dripped for
    ever). Yields its URL and the peer (client address) of each request it read."""
    stop = threading.Event()
    peers: list[object] = []
    steps = iter(plan)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)

    def serve(raw: socket.socket, peer: object) -> None:
        raw.settimeout(10)
        try:
            conn = raw if tls is None else tls.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):  # (a client that does not trust the certificate)
            raw.close()
            return
        with conn, conn.makefile("rb") as f:
            while not stop.is_set():
                try:
                    req_id = _read_request(f)
                except OSError:
                    return
                if req_id is None:
                    return
                peers.append(peer)
                step = next(steps, "ok")
                if step == "ok":
                    conn.sendall(_answer(req_id))
                    continue
                if step == "headers":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Pad: ")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n{")
                while not stop.wait(DRIP):  # one byte per DRIP, until the test ends
                    try:
                        conn.sendall(b" " if step == "body" else b"a")
                    except OSError:  # the client gave up and closed it
                        return

    def accept() -> None:
        workers = []
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            t = threading.Thread(target=serve, args=(conn, peer), daemon=True)
            t.start()
            workers.append(t)
        for t in workers:
            t.join(5)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        scheme = "http" if tls is None else "https"
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}/", peers
    finally:
        stop.set()
        acceptor.join(10)
        listener.close()


@pytest.mark.parametrize("phase", ["headers", "body"])
@pytest.mark.parametrize(("client_timeout", "call_timeout"), [(1.0, None), (30.0, 1.0)])
def test_a_dripped_answer_ends_by_the_calls_deadline_on_a_new_connection(
    phase: str, client_timeout: float, call_timeout: float | None
) -> None:
    with ThreadPoolExecutor(1) as pool, dripping_server([phase, "ok"]) as (url, peers):
        rpc = Rpc(url, timeout=client_timeout)
        try:
            start = time.monotonic()
            late = pool.submit(rpc.call, "eth_blockNumber", timeout=call_timeout)
            # (bounded: without the deadline the call would wait for ever)
            with pytest.raises(RpcTimeout, match="answered too slowly") as caught:
                late.result(timeout=25)
            took = time.monotonic() - start
            assert url in str(caught.value) and isinstance(caught.value, RpcError)
            # the 1 s bound, not the 30 s client timeout (slack for a loaded machine)
            assert 0.9 <= took < 10.0, took
            assert pool.submit(rpc.call, "eth_blockNumber").result(timeout=10) == "0x1"
        finally:
            rpc.close()
    assert len(peers) == 2 and peers[0] != peers[1]  # the aborted connection not reused


def test_prompt_answers_share_one_connection_and_leave_no_deadline_behind() -> None:
    with dripping_server(["ok"] * 5) as (url, peers):
        rpc = Rpc(url, timeout=0.5)
        try:
            for _ in range(5):
                assert rpc.call("eth_blockNumber") == "0x1"
            assert rpc.batch([]) == []
        finally:
            rpc.close()
    assert len(peers) == 5 and len(set(peers)) == 1
