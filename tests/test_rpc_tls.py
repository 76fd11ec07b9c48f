"""The JSON-RPC client over HTTPS (``sdex.chain.deadline``'s TLS pool): an endpoint with a
self-signed certificate made here (``openssl``, no network) that the client is told to trust
(``$REQUESTS_CA_BUNDLE``, as an operator would): prompt answers share one verified connection;
one whose headers or body drip, each byte within the per-read timeout, ends by the call's
deadline, as over plain HTTP (``tests/test_rpc_deadline.py``); an untrusted certificate is
an error, never a call made."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from sdex.chain.rpc import Rpc
from sdex.errors import RpcError, RpcTimeout
from tests.test_rpc_deadline import dripping_server

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


def tls_server(
    cert: tuple[Path, Path], plan: list[str]
) -> AbstractContextManager[tuple[str, list[object]]]:
    """``test_rpc_deadline.dripping_server`` over HTTPS with ``cert``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    return dripping_server(plan, context)


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
