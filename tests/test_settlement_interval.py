"""A backlog on a chain that mines by interval (``sdex devnet --engine anvil --block-time``):
the batches in flight go out while the block they can share is still open, not each behind
the receipt of the one before (real anvil, the node's settler)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.devnet import Devnet
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import LOT, pair, running_settler

BLOCK_TIME = 0.25
"""Seconds between the test's blocks (anvil's own interval cannot go below a second by
JSON-RPC: the test mines them)."""


@contextlib.asynccontextmanager
async def interval_mining(rpc_url: str) -> AsyncIterator[None]:
    """Automine off (anvil: no mining) and a block every ``BLOCK_TIME`` from here, as
    anvil's interval mining does (its miner takes the whole pool); automine again after."""
    rpc = Rpc(rpc_url)
    rpc.call("evm_setAutomine", False)

    async def mine() -> None:
        while True:
            await asyncio.sleep(BLOCK_TIME)
            await asyncio.to_thread(rpc.call, "evm_mine")

    miner = asyncio.create_task(mine())
    try:
        yield
    finally:
        miner.cancel()
        await asyncio.gather(miner, return_exceptions=True)
        rpc.call("evm_setAutomine", True)
        rpc.close()


async def test_backlog_batches_share_a_block_on_an_interval_mined_chain(
    devnet: Devnet, chain: Chain, tmp_path: Path
) -> None:
    """Three batches of 64 queued at once: each used to go out only once the one before had
    its receipt (sent alone, it waited for its block by ``eth_sendRawTransactionSync``), so
    each took a block of its own (3 of 3 runs). Under a backlog, on a chain that does not mine
    on the send (``anvil_getAutomine`` false), a send goes without waiting for its receipt:
    the three go out within milliseconds, into one block (two when a block falls between),
    and all settle."""
    if devnet.engine != "anvil":
        pytest.skip("anvil only (eth_sendRawTransactionSync; Hardhat has none)")
    c = chain
    backlog = [pair(c, k) for k in range(192)]
    async with running_settler(c, tmp_path) as (settler, results):
        settler.backlog_batch = 64
        settler.gas.backlog_batch = 64
        async with interval_mining(c.rpc.url):
            settler.submit(backlog)
            await wait_for(lambda: settler.idle.is_set() and len(results) == 192, timeout=60.0)
    assert settler.sent == 3 and settler.settled == 192 and settler.failed == 0
    assert len({r.tx_hash for r in results}) == 3
    blocks = {r.fills[0].block_number for r in results}
    assert len(blocks) <= 2, f"3 batches in {len(blocks)} blocks"
    for m in backlog:
        assert c.exchange.order_info(m.resting.order).filled == LOT
