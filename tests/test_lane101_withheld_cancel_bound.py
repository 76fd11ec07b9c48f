"""lane101 (review100d on restart98): a later row of ours at a nonce, its bytes unknown to the
chain, past its bound; the earlier row it superseded there read pooled (``_earlier_pooled``:
no cancel over it). Before, nothing bounded that read: a backend that says the earlier is
pooled while no block takes it (a liar on ``eth_getTransactionByHash``; or an honest chain
whose base fee outran its bumps) withheld the later's cancel for good, the nonce empty and
the later's orders held for ever. Now the cancel goes ``RECEIPT_TIMEOUT`` after it was first
withheld.

Real Hardhat mining only when told (the earlier's bytes dropped from its pool by
``hardhat_dropTransaction``), the rows stored as a killed run leaves them (real SQLite), a
real proxy on loopback answering the earlier's hash as pooled for ever and refusing the
later's bytes as underpriced (as while the earlier was pooled); the start in this
process, its bounds shortened."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.rpcfault import Answer, _proxy, lone_send
from tests.supersededrows import one_pooled
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_review66_adopt_landed import OPERATOR

__all__ = ["pooling"]

FEES = (3 * 10**9, 10**9)
CAP = 8.0
"""``RECEIPT_TIMEOUT`` for the cancel's withholding (``sdex.settlement.lane``)."""


async def test_the_later_row_s_cancel_goes_once_withheld_past_its_bound(
    pooling: Chain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sdex")
    monkeypatch.setattr("sdex.settlement.lane.RECEIPT_TIMEOUT", CAP)  # (the bound, shortened)
    cfg, orders, first, later = await one_pooled(pooling, tmp_path, monkeypatch, FEES, 4.0, False)
    c = pooling
    told = c.rpc.call("eth_getTransactionByHash", first.tx_hash)
    assert told is not None and told["blockNumber"] is None

    def intercept(req: object) -> Answer | None:  # (the earlier pooled, whatever the chain says)
        if (
            isinstance(req, dict)
            and req.get("method") == "eth_getTransactionByHash"
            and str(req["params"][0]).lower() == first.tx_hash.lower()
        ):
            return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": told}).encode()
        if lone_send(req) == later.tx_hash.lower():  # (refused as while the earlier pooled)
            error = {"code": -32000, "message": "replacement transaction underpriced"}
            return 200, json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": req.get("id") if isinstance(req, dict) else 1,
                    "error": error,
                }
            ).encode()
        return None

    with _proxy(c.rpc.url, intercept) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            s = node.settler
            await wait_for(lambda: s.adopted == 2, timeout=60)
            assert first.tx_hash in s.superseded, s.superseded
            assert c.rpc.call("hardhat_dropTransaction", first.tx_hash)  # (the pool lost it)
            since = time.time()

            def cancelled() -> bool:  # (before: never, the later's cancel withheld for good)
                c.rpc.call("evm_mine")  # (blocks go on, none takes n: the liar's "pooled")
                return any(h != first.tx_hash for h in s.cancels)

            await wait_for(cancelled, timeout=60)
            assert time.time() - since > CAP - 1  # (withheld up to its bound first)
            (cancel,) = (t for h, t in s.cancels.items() if h != first.tx_hash)
            assert cancel.nonce == first.nonce

            def taken() -> bool:  # (the cancel at n mined: the later's orders freed)
                c.rpc.call("evm_mine")
                return nonce(c.rpc, c.address(OPERATOR)) > first.nonce

            await wait_for(taken, timeout=60)
            got = c.rpc.call("eth_getTransactionReceipt", cancel.tx_hash)
            assert got is not None and got["status"] == "0x1", got
            assert c.rpc.call("eth_getTransactionReceipt", later.tx_hash) is None
            assert c.exchange.order_info(orders[2].order).filled == 0
