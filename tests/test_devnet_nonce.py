"""``sdex devnet`` restarted on the port a node already uses (user25): the node sees a chain
reset and may settle from its operator key, one of the dev accounts the deployment is still
funding and approving from. The deployment counted each account's nonces itself, so a
transaction the node slipped in between made its next one "nonce too low" and the devnet
died with a traceback (its chain gone). A deployment's transaction refused for its nonce is
now signed again at the chain's count. A real chain behind a loopback proxy that, when the
deployment first reads an account's nonce, sends a transaction from that account itself
(as the node would) and answers the count from before it."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest

from sdex.chain import Rpc, Sender, Token
from sdex.chainnode import chain_node
from sdex.devnet import UINT256_MAX, deploy_devnet, dev_keys
from tests.rpcfault import Answer, _proxy

LAST = 19
"""The README's operator key for a node: dev account #19."""


def _forward(url: str, req: object) -> bytes:
    fwd = urllib.request.Request(
        url, json.dumps(req).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(fwd, timeout=30) as resp:
        return bytes(resp.read())


@pytest.mark.parametrize("engine", ["hardhat", "anvil"])
def test_a_transaction_slipped_in_by_a_node_does_not_stop_the_deployment(
    engine: str, tmp_path: Path
) -> None:
    node = chain_node(engine, None, tmp_path / "chain.log")  # type: ignore[arg-type]
    upstream = node.start()
    key = dev_keys(LAST + 1)[LAST]
    other = Sender(upstream, key)
    slipped = threading.Event()

    def intercept(req: object) -> Answer | None:
        if not (isinstance(req, dict) and req.get("method") == "eth_getTransactionCount"):
            return None
        if str(req["params"][0]).lower() != other.address.lower() or slipped.is_set():
            return None
        answer = _forward(node.url, req)  # the count as read ...
        other.send(other.address, b"", gas=21_000)  # ... then the node's transaction
        slipped.set()
        return 200, answer

    try:
        with _proxy(node.url, intercept) as url:
            rpc = Rpc(url)
            try:
                d = deploy_devnet(rpc, url)
            finally:
                rpc.close()
        assert slipped.is_set()
        for info in d.tokens.values():
            token = Token(upstream, info.address)
            assert token.allowance(other.address, d.exchange) == UINT256_MAX
    finally:
        upstream.close()
        node.stop()


@pytest.mark.parametrize("engine", ["hardhat", "anvil"])
def test_the_deployment_block_is_the_exchanges_own(engine: str, tmp_path: Path) -> None:
    """A block mined between the Exchange's creation and the deployment's next read (another
    sender's transaction): the deployment block is still the one the Exchange was created in
    (it was the head read after, one block late: the mirror, reading logs from it on, would
    miss an Exchange log of the block between)."""
    node = chain_node(engine, None, tmp_path / "chain.log")  # type: ignore[arg-type]
    upstream = node.start()
    mined = threading.Event()

    def intercept(req: object) -> Answer | None:
        if isinstance(req, dict) and req.get("method") == "eth_blockNumber" and not mined.is_set():
            upstream.call("evm_mine")  # (as if another's transaction landed just now)
            mined.set()
        return None

    try:
        with _proxy(node.url, intercept) as url:
            rpc = Rpc(url)
            try:
                d = deploy_devnet(rpc, url, accounts=2)
            finally:
                rpc.close()
        at = upstream.call("eth_getCode", d.exchange, hex(d.deploy_block))
        before = upstream.call("eth_getCode", d.exchange, hex(d.deploy_block - 1))
        assert at not in ("0x", "") and before in ("0x", "")
    finally:
        upstream.close()
        node.stop()
