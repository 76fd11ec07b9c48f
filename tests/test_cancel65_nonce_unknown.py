"""A node whose operator's next nonce is unknown when it takes a soft cancel because it has
signed nothing since a restart names the nonce past the settlement it sent again at its
start (review64's rule, its restart half: ``sdex.settlement.reconcile``), so ``sdex audit``
does not flag that settlement, signed before the cancel, when it lands after it.

Without it, the cancel named no nonce and the audit took the operator's transaction count at
the cancel's block, which the settlement still pooled has: it was flagged
``node_settled_after_cancel`` (failed 1 of 1 on cancel65's base). Real Hardhat mining only
when told, a real node stopped and started again on its SQLite store, the audit run against
it."""

from __future__ import annotations

from pathlib import Path

import pytest

import sdex.settlement.reconcile
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack38_soft_cancel_sync import cancel_at
from tests.test_audit62_cancel_kept import audit, broken, meta_at
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import held_chain, pending_txs
from tests.test_settlement_pipeline import post_all

__all__ = ["held_chain"]  # (the fixture, used by name)


async def test_a_settlement_sent_before_a_restart_that_lands_after_the_cancel_is_not_flagged(
    held_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = held_chain
    monkeypatch.setattr(sdex.settlement.reconcile, "RESTART_RECEIPT_WAIT", 0.5)  # (given up sooner)
    cfg = node_config(c, tmp_path / "n.db")
    half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
    async with running_node(cfg) as (node, api):
        operator = node.sender.address
        await post_all(api, [half, c.sign(bid(c, BOB, E18, 1000 * E6))])
        await wait_for(lambda: pending_txs(c) == 1, timeout=60)  # its settlement: pooled
    sent = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)  # its nonce
    async with running_node(cfg) as (node, api):  # sent again at the start, still pooled
        assert node.sender.next_nonce is None  # (nothing signed since it started)
        assert pending_txs(c) == 1
        await cancel_at(api, c, half, ALICE)
        meta = await meta_at(api, half.hash_hex)
        assert meta["cancelledAtNonce"] == sent + 1  # before: absent
        c.rpc.call("evm_mine")  # the settlement signed before the cancel lands after it
        await wait_for(lambda: c.exchange.order_info(half.order).filled == E18, timeout=30)
        await synced(node, c)
        report = await audit(c, api)
        assert broken(report) == [], report.to_json()  # before: flagged
        meta = await meta_at(api, half.hash_hex)
        got = {k: meta[k] for k in ("status", "filledMakerAmount")}
        assert got == {"status": "cancelled", "filledMakerAmount": str(E18)}
