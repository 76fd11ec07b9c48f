"""settle86 (review86b's "also"): an adopted row a start replaced by a transfer of nothing
(``unsettled.replace_pooled``: "not sent again", in ``withheld``), judged again by its wait as
settling now and its bytes sent (``NonceLane._keep_alive``), then cancelled at its bound: a
settlement sent and cancelled past its bound as any other (lost, ``cancelled``), not a row
withheld. Before, the start's ``withheld`` entry stayed: the row counted in /health's
``settlementsWithheldCancelled`` and its matches failed as "not sent again (its call reverts
...): cancelled at its nonce", though its bytes went out.

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled (``pooled_and_killed``); the restart in this process behind a proxy that answers the
row's first call as a revert (the start replaces it) and swallows that transfer; the pool
then lets the row go, its wait sends its bytes, and nothing is mined until its bound
(``RECEIPT_TIMEOUT``, shortened) has its cancel sent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import answering, pooled_row
from tests.test_reconcile77_too_high import pooling
from tests.test_settle80_withdrawn_restart import health
from tests.test_settle81_unsettled_restart import status_of
from tests.test_settle84_replaced_judged import settled_down, transfer_once

__all__ = ["pooling"]

BOUND = 12.0
"""Seconds an adopted row waits for its receipt before its cancel (``RECEIPT_TIMEOUT``)."""


async def test_a_rejudged_row_sent_then_cancelled_at_its_bound_is_not_counted_withheld(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    _, count, tx, got = await pooled_row(c, db)
    done, answer = transfer_once(c, str(got["input"]).lower(), True, False)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    monkeypatch.setattr("sdex.settlement.receipts.RECEIPT_TIMEOUT", BOUND)
    with answering(c, answer) as url:
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert done == ["call", "transfer"], done  # (replaced, the transfer swallowed)
            s = node.settler
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            assert tx in s.withheld and tx in s.cancels  # (the start's: "not sent again")
            transfer = s.cancels[tx].tx_hash
            c.rpc.call("hardhat_dropTransaction", tx)  # (the pool lets it go)

            def resent() -> bool:  # (judged settling: its bytes pooled again)
                return c.rpc.call("eth_getTransactionByHash", tx) is not None

            await wait_for(resent, timeout=BOUND / 2)  # (before its bound)
            assert c.rpc.call("eth_getTransactionByHash", transfer) is None

            def cancelled() -> bool:  # (at its bound: the transfer in its place)
                return c.rpc.call("eth_getTransactionByHash", transfer) is not None

            await wait_for(cancelled, timeout=BOUND + 30)
            c.rpc.call("evm_mine")  # (the transfer: the row's nonce taken without it)
            await wait_for(lambda: tx not in s.in_flight, timeout=30)
            assert c.rpc.call("eth_getTransactionReceipt", tx) is None
            assert c.rpc.call("eth_getTransactionReceipt", transfer) is not None

            def dropped() -> bool:  # (its row's write queued: committed soon after)
                return status_of(db, tx) == "dropped"

            await wait_for(dropped, timeout=30)
            assert s.withheld_cancels == 0, "sent, cancelled at its bound: counted withheld"
            assert s.lost == 1 and s.cancelled == 1, (s.lost, s.cancelled)
            assert (await health(api))["settlementsWithheldCancelled"] == 0
            assert quantity(c.rpc.call("eth_getTransactionCount", got["from"])) >= count + 1
            await settled_down(c, node)
