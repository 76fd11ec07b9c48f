"""The JSON-RPC client over HTTPS (``sdex.chain.deadline``'s TLS pool): an endpoint with a
self-signed certificate made here (``openssl``, no network) that the client is told to trust
(``$REQUESTS_CA_BUNDLE``, as an operator would): prompt answers share one verified connection;
one whose headers or body drip, each byte within the per-read timeout, ends by the call's
deadline, as over plain HTTP (``tests/test_rpc_deadline.py``); an untrusted certificate is
an error, never a call made."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from sdex.chain.rpc import Rpc
from sdex.errors import RpcError, RpcTimeout
from tests.test_rpc_deadline import DRIP, _answer, _read_request

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key: (cert, key) PEM files."""
    tmp = tmp_path_factory.mktemp("tls")
    crt, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return crt, key


@contextmanager
def tls_server(cert: tuple[Path, Path], plan: list[str]) -> Iterator[tuple[str, list[object]]]:
    """A loopback HTTPS/1.1 server answering its requests, in order, as ``plan`` says ("ok",
    "headers", "body": see ``test_rpc_deadline.dripping_server``). Yields its URL and the
    client address of each request it read."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    stop = threading.Event()
    peers: list[object] = []
    steps = iter(plan)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)

    def serve(raw: socket.socket, peer: object) -> None:
        raw.settimeout(10)
        try:
            conn = context.wrap_socket(raw, server_side=True)
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
                while not stop.wait(DRIP):
                    try:
                        conn.sendall(b" " if step == "body" else b"a")
                    except OSError:
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
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/", peers
    finally:
        stop.set()
        acceptor.join(10)
        listener.close()


def test_prompt_answers_over_tls_share_one_verified_connection(
    cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert[0]))
    with tls_server(cert, ["ok"] * 4) as (url, peers):
        rpc = Rpc(url, timeout=5.0)
        try:
            for _ in range(4):
                assert rpc.call("eth_blockNumber") == "0x1"
        finally:
            rpc.close()
    assert len(peers) == 4 and len(set(peers)) == 1


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_dripped_answer_over_tls_ends_by_the_calls_deadline(
    cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, phase: str
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert[0]))
    with ThreadPoolExecutor(1) as pool, tls_server(cert, [phase, "ok"]) as (url, peers):
        rpc = Rpc(url, timeout=30.0)
        try:
            start = time.monotonic()
            late = pool.submit(rpc.call, "eth_blockNumber", timeout=1.0)
            # (bounded: without the deadline the call would wait for ever)
            with pytest.raises(RpcTimeout, match="answered too slowly"):
                late.result(timeout=25)
            took = time.monotonic() - start
            assert 0.9 <= took < 10.0, took  # the 1 s bound, not the 30 s client timeout
            assert pool.submit(rpc.call, "eth_blockNumber").result(timeout=10) == "0x1"
        finally:
            rpc.close()
    assert len(peers) == 2 and peers[0] != peers[1]  # the aborted connection not reused


def test_an_untrusted_certificate_is_an_error(cert: tuple[Path, Path]) -> None:
    with tls_server(cert, ["ok"]) as (url, peers):
        rpc = Rpc(url, timeout=5.0)
        try:
            with pytest.raises((RpcError, OSError)):
                rpc.call("eth_blockNumber")
        finally:
            rpc.close()
    assert peers == []  # no request was sent over it
