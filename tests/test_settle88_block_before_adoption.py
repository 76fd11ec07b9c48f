"""settle88 (settle87's unexplained refusal): a block mined between a kill and the restart,
its pooled settlement not in it, had the start's catch-up match the row's orders again
before the row was adopted.

The start reloads the stored orders (the pooled match's two crossing orders both rest:
its fill not mined), then the watcher applies the blocks since the saved head
(``Watcher.catch_up``), and each block applied ends in an uncross of the book
(``NodeChainState``): the engine matched the two orders again, held in flight, before
``_adopt`` ran. The row's match then found them taken ("match amount rounds to zero"): not
adopted, given up, while its bytes stayed pooled; the new match was signed behind it (at its
nonce: "replacement transaction underpriced", then cancelled by a transfer; or at the next:
reverted once the pooled one lands, paid). With no block between (every earlier restart
test), the catch-up applied none, matched nothing: the row adopted. Now nothing is matched
until the start's rows are adopted (``NodeAdoption._uncross``).

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with its
settlement pooled (``pooled_and_killed``); one block mined over the row's fee cap (it stays
pooled), the base fee back under it for the next; the restart in this process."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import base_fee_kept, pooled_row
from tests.test_reconcile77_too_high import mined_and_filled, pooling
from tests.test_settle84_replaced_judged import settled_down

__all__ = ["pooling"]


@pytest.mark.parametrize("blocks", [1, 3])
async def test_a_block_before_the_restart_does_not_match_a_pooled_rows_orders_again(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocks: int
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    with base_fee_kept(c) as base:
        maker, count, tx, got = await pooled_row(c, db)
        high = 10 * quantity(got["maxFeePerGas"])
        for _ in range(blocks):  # (over its cap: blocks without it)
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(high))
            c.rpc.call("evm_mine")
        assert c.rpc.call("eth_getTransactionReceipt", tx) is None
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(base))  # (the next block takes it)
        monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
        async with running_node(node_config(c, db)) as (node, api):
            s = node.settler
            # (before: given up at once, its orders matched again by the catch-up's uncross)
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            assert len(s.in_flight) == 1, s.in_flight  # (nothing matched behind it)
            await mined_and_filled(c, node, api, maker, count)
            assert c.rpc.call("eth_getTransactionReceipt", tx) is not None  # (its own bytes)
            await settled_down(c, node)
