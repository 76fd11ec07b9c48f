"""review27: the deployment signs a transaction again only when the chain refused it for
its nonce ("nonce too low" / "too high", a chain's error code), never on an error that
merely mentions a nonce. ``_past_others`` matched ``"nonce"`` anywhere in the error's
text, whose own errors name the endpoint's URL: with "nonce" in the URL, a send that
landed and was answered with junk (an answer that is no JSON-RPC object) was signed again
at the next nonce and sent twice (two Exchanges deployed). A real chain (the suite's
engine) behind a loopback proxy that forwards the Exchange's creation and answers the client
with junk."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.chainnode import Engine, chain_node
from sdex.devnet import deploy_devnet, dev_keys
from sdex.errors import RpcError
from sdex.order import address_of
from tests.rpcfault import Answer, _proxy


def test_a_landed_send_answered_with_junk_is_not_sent_again(tmp_path: Path, engine: Engine) -> None:
    node = chain_node(engine, None, tmp_path / "chain.log")
    upstream = node.start()
    deployer = address_of(dev_keys(1)[0])
    sends = [0]
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not (isinstance(req, dict) and req.get("method") == "eth_sendRawTransaction"):
            return None
        with lock:
            sends[0] += 1
        fwd = urllib.request.Request(
            node.url, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:  # it lands ...
            resp.read()
        return 200, b"[]"  # ... and the answer is junk

    try:
        with _proxy(node.url, intercept) as url:
            rpc = Rpc(url + "/nonce-gateway")  # (any path: the proxy serves them all)
            try:
                with pytest.raises(RpcError):
                    deploy_devnet(rpc, url, accounts=1)
            finally:
                rpc.close()
        assert sends[0] == 1
        assert int(upstream.call("eth_getTransactionCount", deployer, "latest"), 16) == 1
    finally:
        upstream.close()
        node.stop()
