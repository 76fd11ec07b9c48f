"""Hardhat's pool after its automine resumed (``evm_setAutomine true`` over a pool of
settlements, as ``bench/node.py`` resumes it): Hardhat mines nothing of the pool until it is
sent a transaction, and refuses any replacement at a pooled nonce ("can't be queued when
automining"). Before: a node with nothing more to send kept its settlements pooled until
``RECEIPT_TIMEOUT`` (120 s), then counted them lost and matched their orders again (the
next settlement then mined the pool, the lost ones landed, the new ones reverted: the
operator's gas). Now the refused replacement is followed by a transfer of nothing at the
lane's next nonce, which Hardhat mines with the whole pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.devnet import Devnet
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import LOT, OPERATOR, running_settler
from tests.test_settlement_pooled import BATCHES, pooled_while_paused, statuses


async def test_on_hardhat_a_pool_the_resume_left_is_mined_with_nothing_more_to_send(
    devnet: Devnet, chain: Chain, tmp_path: Path
) -> None:
    if devnet.engine != "hardhat":
        pytest.skip("Hardhat's own pool (anvil's is replaced: test_settlement_pooled)")
    c = chain
    count = 64 * BATCHES
    async with running_settler(c, tmp_path) as (settler, results):
        settler.backlog_batch = settler.gas.backlog_batch = 64
        nonce = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"), 16)
        await pooled_while_paused(c, settler, count)
        # (bound: the receipt timeout is 120 s; a replacement is tried after 1 s still)
        await wait_for(lambda: settler.idle.is_set() and len(results) == count, timeout=30.0)
        rows = await statuses(settler)
    assert settler.settled == count and settler.failed == 0 and settler.lost == 0
    assert settler.gap_fills == 0 and settler.pool_nudges == 1
    assert rows == {"mined": BATCHES, "dropped": settler.replace_refused}
    for r in results:
        assert c.exchange.order_info(r.match.resting.order).filled == LOT
    mined = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"), 16)
    assert mined == nonce + BATCHES + 1  # (the batches and one transfer of nothing after them)
    assert not settler.in_flight
