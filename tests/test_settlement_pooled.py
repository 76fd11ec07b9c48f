"""Settlements a chain keeps in its pool without mining them (left61): anvil's automine,
resumed after a pause, mines one block of the pool (30 M gas) and then waits for a new
transaction; the batches that did not fit sat there until ``RECEIPT_TIMEOUT`` (120 s), then
were counted lost and their matches judged again (the lane's transfer of nothing at the
first's nonce refused as underpriced). Replaced at higher fees, the same calls, they land at
once (real anvil, the node's settler); on Hardhat, which refuses any send at a pooled nonce
while it automines, a transfer of nothing at the next nonce mines the pool
(``tests/test_reorg63_hardhat_pool.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.chain.tx import Sender, SignedTx, fees_of
from sdex.chainnode import ANVIL_PACKAGES, BLOCK_GAS
from sdex.devnet import Devnet
from sdex.settlement import Outcome, receipts
from sdex.settlement.replace import MAX_REPLACEMENTS, STUCK_BLOCKS, STUCK_IDLE, Pooled, bumped
from sdex.settlement.settler import Settler
from sdex.storesettle import StoredSettlement
from tests.conftest import LOG_DIR, Chain, reverted
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import LOT, OPERATOR, pair, running_settler
from tests.test_settlement_interval import BLOCK_TIME

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
    with reverted(anvil) as c:
        yield c


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


async def pairs_of(settler: Settler) -> int:
    """How many different sets of pairs the settlements' rows hold."""
    sql = "SELECT COUNT(DISTINCT pairs) FROM settlements"
    return int(await settler.store._call_async(lambda db: db.execute(sql).fetchone()[0]))


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
        pairs = await pairs_of(settler)
    assert pairs == BATCHES  # (a replacement's row holds its original's pairs)
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


@contextlib.asynccontextmanager
async def mining(url: str, step: Callable[[Rpc], None]) -> AsyncIterator[None]:
    """Automine off and ``step`` (which mines a block, through its own client) every
    ``BLOCK_TIME``, each step whole (never cut between a block's set-up and its mining:
    nothing left for the next test); automine again after."""
    rpc, stop = Rpc(url), asyncio.Event()

    async def mine() -> None:
        while not stop.is_set():
            await asyncio.to_thread(step, rpc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), BLOCK_TIME)

    rpc.call("evm_setAutomine", False)
    miner = asyncio.create_task(mine())
    try:
        yield
    finally:
        stop.set()
        await miner
        rpc.call("evm_setAutomine", True)
        rpc.close()


def at_base_fee(base_fee: int) -> Callable[[Rpc], None]:
    """A block at ``base_fee`` (a base fee that stays up, as on a busy live chain)."""

    def step(rpc: Rpc) -> None:
        rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(base_fee))
        rpc.call("evm_mine")

    return step


def crowded(c: Chain) -> Callable[[Rpc], None]:
    """A block filled up to 1 M gas of its 30 M by another sender's transaction at a 10 gwei
    tip: the pool's settlements do not fit what is left."""

    def step(rpc: Rpc) -> None:
        burner = Sender(rpc, c.keys[BURNER], c.deployment.chain_id)  # (its nonce: pending)
        base = fees_of(rpc.call("eth_getBlockByNumber", "latest", False))[0]
        burner.broadcast(burner.sign(None, LOOP, BLOCK_GAS - 1_000_000, fees=(2 * base, TIP)))
        rpc.call("evm_mine")

    return step


async def test_a_settlement_whose_fee_cap_the_base_fee_outran_is_replaced_after_blocks(
    devnet: Devnet, chain: Chain, tmp_path: Path
) -> None:
    """A live chain's case: the base fee rose past the settlement's fee cap (twice the base
    fee it was signed at, plus the tip) and blocks go on without it (Hardhat keeps it pooled,
    as geth does). Before: it waited (30 s here, 120 s in all, then judged lost: failed 3 of
    3). Now after ``STUCK_BLOCKS`` of them it is sent again at the fees of the latest block:
    it lands, its match settles; the original is dropped."""
    if devnet.engine != "hardhat":
        pytest.skip("anvil drops it from its pool at the next block: judged lost, as before")
    c = chain
    match = pair(c, 0)
    async with running_settler(c, tmp_path) as (settler, results):
        c.rpc.call("evm_setAutomine", False)
        settler.submit([match])
        await wait_for(lambda: settler.sent == 1 and not settler.sends, timeout=30.0)
        (first,) = settler.in_flight
        base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        async with mining(c.rpc.url, at_base_fee(100 * (2 * base + 10**9))):
            await wait_for(lambda: settler.idle.is_set() and len(results) == 1, timeout=30.0)
        rows = await statuses(settler)
    (r,) = results
    assert r.outcome is Outcome.SETTLED and r.tx_hash != first
    assert settler.replaced >= 1 and settler.gap_fills == 0 and settler.lost == 0
    receipt = c.rpc.call("eth_getTransactionReceipt", r.tx_hash)
    assert c.rpc.call("eth_getTransactionReceipt", first) is None
    assert int(receipt["effectiveGasPrice"], 16) > 2 * base + 10**9  # (the bumped fees paid)
    assert c.exchange.order_info(match.resting.order).filled == LOT
    assert rows == {"mined": 1, "dropped": settler.replaced}


@pytest.mark.parametrize(
    ("last", "now", "want"),
    [
        ((80, 10**9), (80, 10**9), (91, 1_125_000_001)),  # 1/8 more each, and a wei
        ((0, 0), (0, 0), (1, 1)),  # (a chain without fees: still more than the last)
        ((80, 10**9), (500, 10**9), (500, 1_125_000_001)),  # the base fee of now, if higher
        ((800, 2 * 10**9), (100, 10**9), (901, 2_250_000_001)),  # never under the last's
    ],
)
def test_a_replacement_bids_an_eighth_more_than_the_last_and_no_less_than_now(
    last: tuple[int, int], now: tuple[int, int], want: tuple[int, int]
) -> None:
    assert bumped(last, now) == want
    base, tip = want  # (fee cap 2 x base + tip: geth and anvil want 10 % more of both)
    assert 10 * tip >= 11 * last[1] or tip == last[1] + 1
    assert 10 * (2 * base + tip) >= 11 * (2 * last[0] + last[1]) or last == (0, 0)


def test_a_pooled_settlement_is_stuck_after_a_still_second_or_three_blocks() -> None:
    """The first check only notes the head; a head that stays ``STUCK_IDLE`` is "idle"
    (stuck on a chain that mines on the send); ``STUCK_BLOCKS`` new heads are "blocks"; a
    head that goes back (a reorg, a reset) starts over; a replacement starts over too."""
    p = Pooled([SignedTx("0x01", 5, "0x", (1, 1), (None, b"", 21_000, 0))])
    assert p.hashes == ["0x01"]
    assert p.seen(10, 0.0) is None
    assert p.seen(10, STUCK_IDLE - 0.01) is None
    assert p.seen(10, STUCK_IDLE) == "idle"
    assert p.seen(11, STUCK_IDLE + 0.5) is None  # (a block came: still again from here)
    assert p.seen(11, 2 * STUCK_IDLE + 0.5) == "idle"
    assert p.seen(10 + STUCK_BLOCKS, 2 * STUCK_IDLE + 0.6) == "blocks"
    assert p.seen(7, 3.0) is None  # (went back: noted afresh)
    assert p.seen(7 + STUCK_BLOCKS - 1, 3.1) is None
    for n in range(MAX_REPLACEMENTS):
        assert not p.done
        p.replaced_by(SignedTx(f"0x{n + 2:02x}", 5, "0x"))
        assert p.base is None and p.latest.tx_hash == p.hashes[-1]
    assert p.done and len(p.hashes) == MAX_REPLACEMENTS + 1


async def test_a_settlement_still_pooled_at_its_timeout_is_cancelled_at_its_nonce(
    anvil_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks crowded by another sender's higher tips: two batches stay pooled, replaced as
    the blocks go on without them, past their receipt timeout (5 s here, 120 s in a node).
    Before lost78 they were counted lost then, their matches re-judged while a transaction of
    their nonce was still pooled (it could land: a match matched again would be settled
    twice). Now each is cancelled at its nonce: a transfer of nothing at higher fees, which
    fits where the batch does not; once the cancels took the nonces, the settlements are
    lost, their matches re-judged, and no settlement of theirs ever lands. Never the gap
    filler: the first one's nonce, which the second waits on, is not filled while pooled."""
    monkeypatch.setattr(receipts, "RECEIPT_TIMEOUT", 5.0)
    c = anvil_chain
    async with running_settler(c, tmp_path, max_batch=8) as (settler, results):
        c.rpc.call("evm_setAutomine", False)
        settler.backlog_batch = settler.gas.backlog_batch = 8
        settler.submit([pair(c, k) for k in range(16)])
        await wait_for(lambda: settler.sent == 2 and not settler.sends, timeout=30.0)
        nonce = min(s.nonce for s in await pending_rows(settler))
        async with mining(c.rpc.url, crowded(c)):
            await wait_for(lambda: settler.idle.is_set() and len(results) == 16, timeout=40.0)
            mined = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"), 16)
        assert settler.lost == 2 and settler.cancelled == 2 and settler.gap_fills == 0
        assert {r.reason for r in results} == {"transaction lost"}
        assert mined == nonce + 2  # (the two cancels)
        for tx in {r.tx_hash for r in results}:
            assert c.rpc.call("eth_getTransactionReceipt", tx) is None


async def pending_rows(settler: Settler) -> list[StoredSettlement]:
    return await settler.store.pending_settlements_committed()
