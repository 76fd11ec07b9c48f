"""review26: a chain's quantity answers parsed by one function (``sdex.chain.rpc.quantity``):
a hostile chain's number, list or loose hex is refused with the errors the callers handle
(``ValueError``, ``ChainError``), never a ``TypeError`` out of ``int(raw, 16)``."""

from __future__ import annotations

import json

import pytest

from sdex.chain import Rpc, Sender
from sdex.errors import ChainError
from sdex.settlement import receipts
from tests.rpcfault import Answer, _proxy

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")

HOSTILE = [31337, 1.5, None, ["0x1"], {"a": 1}, True, "", "0x", "31337", "0x1_0", "0x10 ",
           " 0x10", "0xg", "0x" + "f" * 65]  # fmt: skip


@pytest.mark.parametrize("raw", HOSTILE, ids=repr)
def test_receipts_quantity_is_the_rpc_one(raw: object) -> None:
    """settle, peering and the lane read quantities with ``receipts.quantity``: the strict
    one (it took "0x1_0" as 16 and "0x10 " as 16)."""
    with pytest.raises(ValueError, match="not a JSON-RPC quantity"):
        receipts.quantity(raw)


def _answering(method: str, result: object):  # type: ignore[no-untyped-def]
    def intercept(req: object) -> Answer | None:
        assert isinstance(req, dict)
        res = result if req.get("method") == method else "0x7a69"
        return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": res}).encode()

    # (every method answered here: the upstream is never asked)
    return _proxy("http://127.0.0.1:9/", intercept)


@pytest.mark.parametrize("raw", HOSTILE, ids=repr)
def test_sender_chain_id_refuses_a_non_quantity(raw: object) -> None:
    with _answering("eth_chainId", raw) as url:
        rpc = Rpc(url, timeout=5)
        try:
            with pytest.raises(ChainError, match="eth_chainId"):
                Sender(rpc, KEY)
        finally:
            rpc.close()


@pytest.mark.parametrize("raw", HOSTILE, ids=repr)
def test_sender_estimate_refuses_a_non_quantity(raw: object) -> None:
    with _answering("eth_estimateGas", raw) as url:
        rpc = Rpc(url, timeout=5)
        try:
            sender = Sender(rpc, KEY)
            assert sender.chain_id == 31337
            with pytest.raises(ChainError, match="eth_estimateGas"):
                sender.estimate("0x" + "11" * 20, b"")
        finally:
            rpc.close()
