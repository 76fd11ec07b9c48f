"""user44's trial: ``sdex audit`` of a chain that took the connection and never answered
(a paused Hardhat) said "cannot reach the JSON-RPC endpoint URL: JSON-RPC error 0: URL
answered too slowly: ...": no JSON-RPC error came (nothing did), and the URL twice. It says
now "cannot reach the JSON-RPC endpoint URL: no complete answer within 1s (is that chain
still running? ...)". A real loopback socket that accepts and stays silent."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from sdex.audit.chainread import AuditSetupError, ChainReader
from sdex.chain.rpc import Rpc
from sdex.errors import RpcTimeout
from tests.conftest import Chain


@contextmanager
def silent_endpoint() -> Iterator[str]:
    """A URL whose server takes connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_silent_chain_is_said_once_without_a_json_rpc_error(chain: Chain) -> None:
    with silent_endpoint() as url:
        rpc = Rpc(url, timeout=1.0)
        try:
            with pytest.raises(RpcTimeout) as timeout:
                rpc.call("eth_chainId")
            assert str(timeout.value) == f"{url} answered too slowly: no complete answer within 1s"
            reader = ChainReader(rpc, replace(chain.deployment, rpc=url))
            with pytest.raises(AuditSetupError) as said:
                reader.check_identity()
        finally:
            rpc.close()
    assert str(said.value) == (
        f"cannot reach the JSON-RPC endpoint {url}: no complete answer within 1s (is that "
        "chain still running? --rpc URL names another endpoint)"
    ), said.value
