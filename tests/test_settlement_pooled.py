"""Settlements a chain keeps in its pool without mining them (left61): anvil's automine,
resumed after a pause, mines one block of the pool (30 M gas) and then waits for a new
transaction; the batches that did not fit sat there until ``RECEIPT_TIMEOUT`` (120 s), then
the lane filled their nonces with transfers of nothing. Replaced at higher fees, the same
calls, they land at once (real anvil, the node's settler); on Hardhat, which refuses any
send at a pooled nonce while it automines, they wait for the lane's next send as before."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdex.chain.tx import fees_of
from sdex.devnet import ANVIL_PACKAGES, BLOCK_GAS, Devnet
from sdex.settlement.settler import Settler
from tests.conftest import LOG_DIR, Chain, chain_of
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import LOT, pair, running_settler

BATCHES = 3
"""Batches of 64 matches (16 M gas bound each)."""
BURNER = 17
"""A dev account that is no maker of ``pair`` nor the operator."""
LOOP = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP: a contract creation that burns its gas
TIP = 10**10


@pytest.fixture(scope="module")
def anvil() -> Iterator[Devnet]:
    """anvil as ``sdex devnet --engine anvil`` starts it (automine), whatever the suite's
    engine: the stall is anvil's."""
    if platform.machine() not in ANVIL_PACKAGES:
        pytest.skip("no anvil package for this machine")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"anvil-pooled-{os.getpid()}.log"
    net = Devnet(log_path=log, accounts=20, engine="anvil")
    net.start()
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture
def anvil_chain(anvil: Devnet) -> Iterator[Chain]:
    assert anvil.rpc is not None and anvil.deployment is not None
    snap = anvil.rpc.call("evm_snapshot")
    try:
        yield chain_of(anvil.rpc, anvil.deployment)
    finally:
        assert anvil.rpc.call("evm_revert", snap) is True


async def pooled_while_paused(c: Chain, settler: Settler, count: int, burn: int = 0) -> None:
    """Mining paused, another sender's transaction that burns ``burn`` gas at a higher tip
    (the block the resume mines is full with it) and ``BATCHES`` batches sent (every
    broadcast ended, each in the pool); then automine again, as ``bench/node.py``'s
    ``set_mining`` resumes it."""
    backlog = [pair(c, k) for k in range(count)]
    c.rpc.call("evm_setAutomine", False)
    try:
        if burn:
            base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
            c.sender(BURNER).broadcast(c.sender(BURNER).sign(None, LOOP, burn, fees=(base, TIP)))
        settler.submit(backlog)
        await wait_for(lambda: settler.sent == BATCHES and not settler.sends, timeout=30.0)
        pending = [h for h in settler.in_flight if c.rpc.call("eth_getTransactionReceipt", h)]
        assert pending == []  # (none mined while paused)
    finally:
        c.rpc.call("evm_setAutomine", True)  # (mines one block: the first batch)


async def statuses(settler: Settler) -> dict[str, int]:
    """The settlements' rows in the settler's store, counted by status."""
    sql = "SELECT status, COUNT(*) FROM settlements GROUP BY status"
    return dict(await settler.store._call_async(lambda db: db.execute(sql).fetchall()))


async def test_settlements_left_pooled_when_automine_resumes_land_replaced_at_once(
    anvil_chain: Chain, tmp_path: Path
) -> None:
    """Before: the resume mined a block full with another sender's transaction; the three
    batches waited 120 s in the pool
    (this wait's bound, 40 s, ran out: failed 3 of 3). Now each is replaced at higher fees
    once the chain has mined nothing for a second, and all settle: no transfer of nothing,
    no match re-judged."""
    c = anvil_chain
    count = 64 * BATCHES
    async with running_settler(c, tmp_path) as (settler, results):
        settler.backlog_batch = settler.gas.backlog_batch = 64
        await pooled_while_paused(c, settler, count, burn=BLOCK_GAS - 1_000_000)
        await wait_for(lambda: settler.idle.is_set() and len(results) == count, timeout=40.0)
        rows = await statuses(settler)
    assert settler.settled == count and settler.failed == 0 and settler.lost == 0
    assert settler.gap_fills == 0
    assert 1 <= settler.replaced <= 2 * (BATCHES - 1)
    for r in results:
        assert c.exchange.order_info(r.match.resting.order).filled == LOT
    landed = {r.tx_hash for r in results}
    assert len(landed) == BATCHES and not landed & settler.given_up
    assert settler.replace_refused == 0  # (each asked again first: one block took them all)
    assert rows == {"mined": BATCHES, "dropped": settler.replaced}  # (each replaced one)
    assert not settler.in_flight


async def test_on_hardhat_settlements_left_pooled_wait_for_the_next_send_as_before(
    devnet: Devnet, chain: Chain, tmp_path: Path
) -> None:
    """Hardhat, its automine resumed, mines nothing of its pool and refuses any send at a
    pooled nonce ("Nonce too low ... can't be queued when automining"): each replacement
    tried is refused and dropped, no more are tried, no transfer of nothing either; the
    lane's next settlement makes Hardhat mine the pool and every match settles."""
    if devnet.engine != "hardhat":
        pytest.skip("Hardhat's own pool (anvil's: the test above)")
    c = chain
    count = 64 * BATCHES
    async with running_settler(c, tmp_path) as (settler, results):
        settler.backlog_batch = settler.gas.backlog_batch = 64
        await pooled_while_paused(c, settler, count)
        await wait_for(lambda: settler.replace_refused == BATCHES, timeout=30.0)
        assert results == [] and settler.replaced == 0
        settler.submit([pair(c, count)])
        await wait_for(lambda: settler.idle.is_set() and len(results) == count + 1, timeout=60.0)
        rows = await statuses(settler)
    assert settler.settled == count + 1 and settler.failed == 0 and settler.lost == 0
    assert settler.gap_fills == 0
    assert rows == {"mined": BATCHES + 1, "dropped": BATCHES}
    assert not settler.in_flight
