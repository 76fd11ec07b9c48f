"""settle74: the settler's stage sums (``StageTimes``: ``/health``'s ``settlementStagesMs``,
the figures ``bench/node.py`` prints per stage) count each match the chain settled once. In
one run on a real Hardhat: a batch of three whose third is withdrawn as it forms (an order
of it cancelled: never signed) and whose first is held back at its signature (requeued, then
signed in a batch of its own), and a lone match its chain leaves pooled past its fee cap,
replaced at higher fees. Before, the held-back match counted in both batches and the
withdrawn one in its batch (5 counted for 3 settled)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sdex.chain.tx import fees_of
from sdex.matching.match import Match
from sdex.settlement import Outcome
from sdex.settlement.take import WITHDRAWN_WHY
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import pair, running_settler
from tests.test_settlement_pooled import at_base_fee, mining


async def test_stage_counts_add_up_to_the_matches_settled(chain: Chain, tmp_path: Path) -> None:
    c = chain
    back, sent, gone, pooled = (pair(c, k) for k in range(4))
    armed: list[bool] = []

    def withdrawn(batch: Sequence[Match]) -> Mapping[int, str]:
        if any(m is back for m in batch) and not armed:
            armed.append(True)  # (the next look at its hold, its signature's, holds it)
        return {i: WITHDRAWN_WHY for i, m in enumerate(batch) if m is gone}

    def held() -> frozenset[bytes]:
        if armed and armed[-1]:
            armed[-1] = False  # (held once: queued again, then signed)
            return frozenset({back.resting.hash})
        return frozenset()

    async with running_settler(c, tmp_path) as (settler, results):
        settler.withdrawn, settler.held = withdrawn, held
        settler.submit([back, sent, gone])
        await wait_for(lambda: settler.idle.is_set() and len(results) == 3, timeout=30.0)
        assert settler.sent == 2  # (the held-back one in a batch of its own)
        c.rpc.call("evm_setAutomine", False)
        settler.submit([pooled])
        await wait_for(lambda: settler.sent == 3 and not settler.sends, timeout=30.0)
        base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        async with mining(c.rpc.url, at_base_fee(100 * (2 * base + 10**9))):
            await wait_for(lambda: settler.idle.is_set() and len(results) == 4, timeout=30.0)
    settled = [r.match for r in results if r.outcome is Outcome.SETTLED]
    assert sorted(map(id, settled)) == sorted(map(id, (back, sent, pooled)))
    assert [r.match for r in results if r.withdrawn] == [gone]
    assert settler.replaced >= 1 and settler.settled == 3
    assert settler.stages.matches == settler.settled
    assert settler.stages.mean_ms()["matches"] == 3
