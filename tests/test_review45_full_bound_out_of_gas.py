"""review45: blame44 sends a backlog batch with the fallback's room that runs out of gas
again at once, in parts at ``GAS_PER_MATCH``. But a batch already at ``GAS_PER_MATCH`` (the
learning paused, or nothing learned yet; with ``max_batch`` below the 63 that fit one
transaction at that bound, such batches are backlog batches) goes again as the same batch at
the same gas: it runs out again, a second reverted transaction of ~16M gas for nothing, and
its matches were then reported failed with no transaction (judged as if never sent, read at
the latest block). Matches that cost more than the bound (a costly token: ``HeavyToken``)
now fail in the one transaction that ran out, judged from it, as before blame44."""

from __future__ import annotations

from pathlib import Path

from sdex.book.types import Side
from sdex.chain import Token, deploy, load_abi
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.settlement import Outcome
from sdex.settlement.gas import GAS_PER_MATCH, fitting_batch
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import ASKS, BIDS, E18, LOT, pair, running_settler


def heavy_matches(c: Chain, count: int) -> list[Match]:
    """``count`` matches whose bids pay in a ``HeavyToken`` each transfer of which costs
    ~300k gas more than a plain one: each match costs more than ``GAS_PER_MATCH``."""
    hvy = Token(c.rpc, deploy(c.sender(0), "HeavyToken"))
    hvy.abi = load_abi("HeavyToken")
    for b in BIDS:
        hvy.send(c.sender(0), "mint", c.address(b), 1000 * E18)
        hvy.send(c.sender(b), "approve", c.deployment.exchange, 2**256 - 1)
    hvy.send(c.sender(0), "setWork", 3000)
    out = []
    for k in range(count):
        a, b = ASKS[k % len(ASKS)], BIDS[k % len(BIDS)]
        left = c.sign(c.order(a, c.weth, LOT, hvy, 30 * E18 + k))
        right = c.sign(c.order(b, hvy, 30 * E18 + k, c.weth, LOT))
        out.append(Match(left, right, MatchAmounts(LOT, 30 * E18 + k, 0, 0), Side.BID))
    return out


async def test_a_batch_at_the_full_bound_that_runs_out_is_not_sent_again(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cap = 2_060_000  # (8 at GAS_PER_MATCH; at 16M: 63, a backlog batch at max_batch 16)
    size = fitting_batch(GAS_PER_MATCH, cap)
    backlog = heavy_matches(c, size)
    async with running_settler(c, tmp_path, max_batch=4, cap=cap) as (settler, results):
        assert settler.batch_size(size) == size == 8  # (nothing learned: the full bound)
        settler.submit(backlog)
        await wait_for(lambda: settler.idle.is_set() and len(results) == size, timeout=120.0)
        assert settler.sent == 1  # before: 2, the same batch again at the same gas
        assert {r.outcome for r in results} == {Outcome.FAILED}
        (tx,) = {r.tx_hash for r in results}  # before: None (judged as never sent)
        assert tx is not None
        receipt = c.rpc.call("eth_getTransactionReceipt", tx)
        assert int(receipt["status"], 16) == 0
        assert int(receipt["gasUsed"], 16) == int(
            c.rpc.call("eth_getTransactionByHash", tx)["gas"], 16
        )


async def test_a_slim_batchs_part_that_runs_out_with_room_goes_again_at_the_bound(
    chain: Chain, tmp_path: Path
) -> None:
    """The figure set as if taught by matches far cheaper than these: a slim batch of 32
    runs out, and its first part with the fallback's room (16, at the learned figure) runs
    out too. Before, that part's 16 honest matches were reported failed with no transaction
    (each pair one try nearer its bar, judged as never sent); now the learning pauses and
    they go again in parts at ``GAS_PER_MATCH``: every match settles. (A transaction of at
    most ~2M gas, max_batch 8: the splits of 16M, max_batch 64 and 256 matches.)"""
    c = chain
    cap = 2_040_000  # (30 fit at the 66k a match with room, 44 at the slim 45k)
    async with running_settler(c, tmp_path, max_batch=8, cap=cap) as (settler, results):
        settler.gas.seen = 30_000
        assert settler.batch_size(32) == 32 > settler.gas.safe_size()
        assert settler.gas.split(32) == [16, 16]
        settler.submit([pair(c, k) for k in range(32)])
        await wait_for(lambda: settler.idle.is_set() and len(results) == 32, timeout=180.0)
        assert settler.gas.slim_out_of_gas == 1 and settler.gas.out_of_gas == 1
        assert {r.outcome for r in results} == {Outcome.SETTLED}  # before: 16 failed
        assert settler.settled == 32 and settler.failed == 0
