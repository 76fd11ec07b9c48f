"""settle87 (settle86's left): a settlement's cancel, the transfer of nothing sent at its
nonce in its place, stuck in the pool under a risen base fee is signed again at higher fees
(the lane's replacement rules: ``STUCK_BLOCKS`` blocks without it, each 1/8 over the last
and never under the lane's fees of now, ``MAX_REPLACEMENTS`` at most).

Before, a cancel was signed once and its same bytes sent at every check: a start's transfer
(``unsettled.replace_pooled``, signed at the start's fees) reused once the row's wait judged
it settling nothing, or at its bound, sat in the pool for ever under the base fee, and with
it the nonce lane (every later settlement waits on that nonce).

Real Hardhat mining only when told, each block over the transfer's fee cap
(``hardhat_setNextBlockBaseFeePerGas``); a real ``sdex node`` killed by its PID with the
settlement pooled (``pooled_and_killed``); the restart in this process behind a proxy that
answers the row's first call as a revert (the start replaces it by its transfer) and
swallows that transfer; the maker's order then cancelled on chain (the node does not know)
and the pool lets the row go: its wait judges it settling nothing and sends the start's
transfer."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import answering, base_fee_kept, pooled_row
from tests.test_reconcile77_too_high import pooling
from tests.test_settle80_withdrawn_restart import health
from tests.test_settle81_unsettled_restart import status_of
from tests.test_settle84_replaced_judged import closed_on_chain, settled_down, transfer_once
from tests.test_settle86_stuck_rejudged import over_cap

__all__ = ["pooling"]


async def test_a_start_transfer_stuck_under_a_risen_base_fee_is_repriced(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, got = await pooled_row(c, db)
    done, answer = transfer_once(c, str(got["input"]).lower(), True, False)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    with base_fee_kept(c), contextlib.ExitStack() as stack, answering(c, answer) as url:
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert done == ["call", "transfer"], done  # (replaced, the transfer swallowed)
            s = node.settler
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            first = s.cancels[tx]  # (the start's transfer, at the start's fees)
            high = 10 * (2 * first.fees[0] + first.fees[1])  # (over its fee cap)
            restore = stack.enter_context(closed_on_chain(c, maker.order))
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(high))
            c.rpc.call("evm_mine")
            c.rpc.call("hardhat_dropTransaction", tx)  # (the pool lets it go)

            def transfer_pooled() -> bool:  # (judged settling nothing: its transfer sent)
                return c.rpc.call("eth_getTransactionByHash", first.tx_hash) is not None

            await wait_for(transfer_pooled, timeout=60)
            # (blocks over its cap: before, it stayed pooled for ever, the row in flight)
            await wait_for(over_cap(c, high, lambda: tx not in s.in_flight), timeout=120)
            restore()
            assert c.rpc.call("eth_getTransactionReceipt", tx) is None  # (never its bytes)
            assert c.rpc.call("eth_getTransactionReceipt", first.tx_hash) is None
            operator = str(got["from"])
            assert quantity(c.rpc.call("eth_getTransactionCount", operator)) == count + 1

            def counted() -> bool:  # (its row's write queued: committed soon after)
                return status_of(db, tx) == "dropped" and s.withheld_cancels == 1

            await wait_for(counted, timeout=30)  # (a re-priced transfer took the nonce)
            assert (await health(api))["settlementsWithheldCancelled"] == 1
            await settled_down(c, node)
