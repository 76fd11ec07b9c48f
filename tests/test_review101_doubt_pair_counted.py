"""review101: a failed settlement's diagnosis skipped in a doubt of the chain's identity
(doubt100: held before it, or said during its read) released the pair and counted nothing,
while a refused read counts it (``PairBar.note``): a doubt said at each diagnosis (an endpoint
flapping between two chains), a pair whose settlement failed each time was matched again, and
sent again, with no bound. Now it is counted, barred past ``PAIR_TRIES`` as a refused read's.

Real Hardhat, a real node, a real proxy on loopback (left63's ``rows_proxy``) whose answer to
the diagnosis's read is given after a doubt is said (as the watcher says one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.mirror import doubt as doubt_module
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_left63_short_rows import encoded, rows, settlement_failed_by_cancel


async def test_a_diagnosis_skipped_in_a_doubt_counts_the_pair(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's ask cancelled on chain fails the settlement with Bob's bid; a doubt is said
    during its diagnosis's read. Before: the pair not counted (failed); now counted once."""
    loop = asyncio.get_running_loop()
    said: list[int] = []
    monkeypatch.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
    made: list[doubt_module.ChainDoubt] = []
    init = doubt_module.ChainDoubt.__init__

    def kept(self: doubt_module.ChainDoubt) -> None:
        init(self)
        made.append(self)

    monkeypatch.setattr(doubt_module.ChainDoubt, "__init__", kept)

    async def say() -> None:
        made[-1].said("review101: another chain's answer")

    def other_chain(raw: str) -> str | None:
        if not said:
            said.append(1)
            asyncio.run_coroutine_threadsafe(say(), loop).result(10)
        return encoded(rows(raw))

    async with settlement_failed_by_cancel(chain, tmp_path, other_chain) as (
        node, _api, sell, buy, lies, _,
    ):  # fmt: skip
        await wait_for(lambda: bool(said) and lies["lied"] >= 1, timeout=30)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
        await wait_for(lambda: not node._results_lock.locked(), timeout=30)  # (diagnosed)
        assert node.mirror.doubt is made[-1] and node.mirror.doubt.held
        pairs = node.barred_pairs
        assert len(pairs) == 1  # (before: 0, the pair matched again with no bound)
        for _ in range(pairs.tries - 2):
            pairs.note(sell.hash, buy.hash)
        assert pairs.note(sell.hash, buy.hash)  # (its failures so far counted: barred now)
