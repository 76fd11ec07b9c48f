"""blame44: a backlog batch with the fallback's room that runs out of gas, and a slim batch's
matches sent again after a receipt raised the learned gas (real Hardhat, the node's settler:
``tests.test_settlement_fallback.running_settler``).

Before: one batch with room that ran out of gas (its matches costlier than those the figure
was learned from, and one refusing token making the fallback run: any EOA that empties its
balance before its match settles can make it run) failed every match of it, each judged, and
turned the gas learning off for the node's life (backlog batches at ``GAS_PER_MATCH`` for
ever). And a slim batch's matches were split once, before the first part went: a receipt
that raised the learned figure meanwhile left the later parts too big to fit with room, their
gas capped at the transaction's, and the fallback ran out of gas in them."""

from __future__ import annotations

from pathlib import Path

from sdex.matching.match import Match
from sdex.settlement import Outcome, SettledMatch
from sdex.settlement.gas import GAS_PER_MATCH, fitting_batch
from sdex.settlement.settler import Settler
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import false_return_token, pair, refused, running_settler


async def _backlog(
    c: Chain, settler: Settler, results: list[SettledMatch], seen: int, size: int
) -> tuple[list[Match], Match]:
    """``size`` matches, the last one's token refusing, sent once ``settler`` learned ``seen``
    (as if taught by much cheaper matches): (the backlog, the refused match) once reported."""
    settler.gas.seen = seen
    bad_match = refused(c, false_return_token(c))
    backlog = [*(pair(c, k) for k in range(size - 1)), bad_match]
    assert settler.batch_size(len(backlog)) == size
    settler.submit(backlog)
    await wait_for(lambda: settler.idle.is_set() and len(results) == size, timeout=120.0)
    return backlog, bad_match


def _only_the_refused_failed(
    c: Chain, results: list[SettledMatch], backlog: list[Match], bad_match: Match
) -> None:
    by_match = {(r.match.resting.hash, r.match.incoming.hash): r for r in results}
    verdict = by_match.pop((bad_match.resting.hash, bad_match.incoming.hash))
    assert verdict.outcome is Outcome.FAILED
    assert "SafeERC20FailedOperation" in verdict.reason, verdict.reason
    assert {r.outcome for r in by_match.values()} == {Outcome.SETTLED}
    for m in backlog[:-1]:
        assert c.exchange.order_info(m.resting.order).filled == m.resting.order.maker_amount
    assert c.exchange.order_info(bad_match.resting.order).filled == 0


async def test_a_batch_with_room_out_of_gas_goes_again_and_learning_comes_back(
    chain: Chain, tmp_path: Path
) -> None:
    """The figure taught by much cheaper matches (a fifth of these), 40 matches fit with
    the fallback's room; the last one's token refuses: the batch runs out of gas. Its matches
    go again at once in batches at ``GAS_PER_MATCH`` (not judged): the refusing match is
    the one that fails, with its reason (the node diagnoses it from that); the rest settle.
    The learning pauses, it is not turned off."""
    c = chain
    # (a transaction of at most ~4M gas, max_batch 16: the splits of 16M and 64 with 40 of
    # 100 matches, its parts at ``GAS_PER_MATCH`` of 8 or more: they teach)
    async with running_settler(c, tmp_path, max_batch=16, cap=4_060_000) as (settler, results):
        backlog, bad_match = await _backlog(c, settler, results, 20_000, 40)
        assert settler.gas.out_of_gas == 1 and settler.lost == 0
        _only_the_refused_failed(c, results, backlog, bad_match)
        assert settler.settled == 39 and settler.failed == 1
        assert settler.sent == 1 + len({r.tx_hash for r in results})
        # paused: backlog batches take the fallback-safe bound for now (the parts' receipts
        # taught the real figure meanwhile)...
        assert settler.per_match_gas() == GAS_PER_MATCH and settler.batch_size(300) == 16
        assert settler.gas.seen > 20_000
        # ...and once the pause is over, what was learned counts again
        settler.gas.paused_until = 0.0  # (the pause's end: ``BatchGas.pause`` seconds)
        assert settler.per_match_gas() == int(settler.gas.seen * 2.2) < GAS_PER_MATCH


async def test_a_slim_batchs_parts_fit_with_room_when_a_receipt_raised_the_figure(
    chain: Chain, tmp_path: Path
) -> None:
    """A slim batch of 50 runs out of gas (the figure set as if taught by matches half as
    costly) and goes again in parts with the fallback's room, split at that figure into two
    of 25. The first part's receipt teaches the real figure, at which 25 no longer fit
    with room; the second part's last match's token refuses, so its fallback runs: before,
    that part went as 25 anyway, its gas capped at the transaction's, and ran out (all 25
    failed). Now each part is sized as it goes: the refusing match alone fails. (A
    transaction of at most ~4M gas, max_batch 16: the splits of 16M, 64 and 200 matches.)"""
    c = chain
    cap = 4_060_000
    async with running_settler(c, tmp_path, max_batch=16, cap=cap) as (settler, results):
        assert taught_split(settler, 50_000, 50) == [25, 25]
        backlog, bad_match = await _backlog(c, settler, results, 50_000, 50)
        assert settler.gas.slim_out_of_gas == 1 and settler.lost == 0
        # (what the first part taught)
        assert fitting_batch(settler.per_match_gas(), cap) < 25
        _only_the_refused_failed(c, results, backlog, bad_match)
        assert settler.gas.out_of_gas == 0 and settler.failed == 1


def taught_split(settler: Settler, seen: int, size: int) -> list[int]:
    """The parts a slim batch of ``size`` that ran out would go again in, at ``seen``."""
    settler.gas.seen = seen
    assert settler.batch_size(size) == size > settler.gas.safe_size()
    return settler.gas.split(size)
