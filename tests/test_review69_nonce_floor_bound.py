"""review69a: the operator's pending transaction count a node reads at its start
(``Node._nonce_floor``, chaos66) is the nonce its soft cancels name until it signs. An
endpoint that answers a count past what SQLite's INTEGER holds (a hostile or broken RPC: no
account has sent 2**63 transactions) had every soft cancel of the run refused, 503 "the
cancel was not stored: OverflowError", the maker unable to cancel. Bounded now: a nonce no
honest chain's count gives is not named (the cancel names none, as before chaos66; the
lane's next nonce, read from the same count once it signs, is bounded by the same rule).

Real Hardhat, a real JSON-RPC proxy on loopback (``tests.rpcfault``) that answers the
operator's pending count so, a real node and SQLite store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, E6, E18, ask


async def test_a_pending_count_past_sqlite_does_not_refuse_every_soft_cancel(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    operator = c.address(19).lower()

    def intercept(req: object) -> Answer | None:
        if not (isinstance(req, dict) and req.get("method") == "eth_getTransactionCount"):
            return None
        params = req.get("params")
        if not (isinstance(params, list) and str(params[0]).lower() == operator):
            return None
        answer = {"jsonrpc": "2.0", "id": req.get("id"), "result": hex(2**64)}
        return 200, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        async with running_node(replace(cfg, rpc=url)) as (_, api):
            resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
            assert (await api.post_order(resting))[0] == 201
            sig = sign_cancel(c.domain, resting.hash, c.keys[ALICE])
            url_cancel = f"/v1/orders/{resting.hash_hex}/cancel"
            code, body = await api.post(url_cancel, {"signature": "0x" + sig.hex()})
            assert code == 200, body  # before: 503, OverflowError
            assert "cancelledAtNonce" not in body, body
            assert await api.status(resting) == "cancelled"
    async with running_node(cfg) as (_, api):  # the cancel was stored: kept
        assert await api.status(resting) == "cancelled"
