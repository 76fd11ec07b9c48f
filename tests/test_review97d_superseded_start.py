"""review97d (restart97's left 4b, held79 at a start): two batches of other pairs pending at
one nonce (the first's nonce given back, a later batch signed at it: ``superseded`` in the run
that signed them), the later pooled. A start adopts both (each alone at its nonce with its
pairs: restart97); the earlier was not marked ``superseded`` there (``forget_final`` trims the
set to what flies, and the rows fly only once adopted), so its wait, finding its bytes nowhere,
sent its cancel at the nonce at its bound, over its own fees: the transfer displaced the later
row from the pool, the nonce taken by nothing, the later batch failed. Now ``adopt`` marks the
earlier rows at the nonce of the one adopted after them, as the live lane does at a signature
(``BatchTx``): their waits send nothing, the later row lands.

Real Hardhat mining only when told; the rows stored as a killed run leaves them (real SQLite),
the later one sent to the chain's pool; the start in this process, its bounds shortened."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.supersededrows import one_pooled
from tests.test_doubt81_replaced_rows import statuses
from tests.test_node import E18
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_review66_adopt_landed import OPERATOR

__all__ = ["pooling"]

BOUND = 4.0
"""Seconds a row's wait waits for bytes the chain does not know before its cancel
(``UNKNOWN_TIMEOUT``; the later row, pooled, has ``RECEIPT_TIMEOUT``'s 120 s)."""
FEES = (3 * 10**9, 10**9)


async def test_the_earlier_row_at_a_nonce_never_displaces_the_later_at_a_start(
    pooling: Chain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg, orders, first, later = await one_pooled(pooling, tmp_path, monkeypatch, FEES, BOUND, True)
    c = pooling
    caplog.set_level(logging.INFO, logger="sdex.settlement")
    async with running_node(cfg) as (node, _):
        s = node.settler
        await wait_for(lambda: s.adopted == 2, timeout=60)
        since = time.time()

        def held() -> bool:  # (the first's wait past its bound: sent nothing, or its cancel)
            waits = [
                r
                for r in caplog.records
                if r.created > since + BOUND
                and first.tx_hash in r.getMessage()
                and "a later one holds its nonce" in r.getMessage()
            ]
            return bool(waits) or first.tx_hash in s.cancels

        await wait_for(held, timeout=60)
        c.rpc.call("evm_mine")
        # (before: the first's cancel at the nonce mined instead, the later batch failed;
        # the later's bytes or its replacement at higher fees, if it was found stuck, fill)
        assert nonce(c.rpc, c.address(OPERATOR)) == first.nonce + 1
        assert c.exchange.order_info(orders[2].order).filled == E18, s.cancels
        assert c.exchange.order_info(orders[0].order).filled == 0
        rows = (first.tx_hash, later.tx_hash)
        await wait_for(lambda: "pending" not in map(statuses(cfg.db).get, rows), timeout=30)
        assert statuses(cfg.db)[first.tx_hash] != "mined"


async def test_the_later_row_s_cancel_never_displaces_the_earlier_pooled_at_a_start(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """restart98 (left45): the reverse, the earlier row pooled and the later's bytes unknown
    to the chain (its send refused: underpriced, the same fees). Both adopted, the earlier
    ``superseded``. Before, the later's wait past its bound cancelled at the nonce over its
    fees (a transfer of nothing, over the earlier's too): the earlier's pooled bytes
    displaced, both batches failed. Now no cancel goes over an earlier row of ours pooled at
    its nonce that may still go: the earlier's bytes land, the later is lost, its pair free."""
    cfg, orders, first, later = await one_pooled(pooling, tmp_path, monkeypatch, FEES, BOUND, False)
    c = pooling
    async with running_node(cfg) as (node, _):
        s = node.settler
        await wait_for(lambda: s.adopted == 2, timeout=60)
        assert first.tx_hash in s.superseded, s.superseded
        since = time.time()  # (the later's wait past its bound, a few checks after)
        await wait_for(lambda: time.time() - since > 3 * BOUND + 8, timeout=60)
        c.rpc.call("evm_mine")
        rows = (first.tx_hash, later.tx_hash)
        await wait_for(lambda: "pending" not in map(statuses(cfg.db).get, rows), timeout=60)
        # (before: the later's cancel mined at the nonce instead, both failed)
        got = c.rpc.call("eth_getTransactionReceipt", first.tx_hash)
        assert got is not None and got["status"] == "0x1", (got, s.cancels)
        assert c.exchange.order_info(orders[0].order).filled == orders[0].order.maker_amount
        assert statuses(cfg.db)[later.tx_hash] != "mined"
        assert nonce(c.rpc, c.address(OPERATOR)) >= first.nonce + 1
