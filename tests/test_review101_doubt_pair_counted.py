"""review101: a failed settlement's diagnosis skipped in a doubt of the chain's identity
(doubt100: held before it, or said during its read) released the pair and counted nothing,
while a refused read counts it (``PairBar.note``): a doubt said at each diagnosis (an endpoint
flapping between two chains), a pair whose settlement failed each time was matched again, and
sent again, with no bound. Now it is counted, barred past ``PAIR_TRIES`` as a refused read's.

Real Hardhat, a real node, a real proxy on loopback (left63's ``rows_proxy``) whose answer to
the diagnosis's read is given after a doubt is said (as the watcher says one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.saiddoubt import SaidDoubt, diagnosed_in_doubt
from tests.test_left63_short_rows import encoded, rows, settlement_failed_by_cancel


async def test_a_diagnosis_skipped_in_a_doubt_counts_the_pair(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's ask cancelled on chain fails the settlement with Bob's bid; a doubt is said
    during its diagnosis's read. Before: the pair not counted (failed); now counted once."""
    doubt = SaidDoubt(monkeypatch, "review101: another chain's answer")

    def other_chain(raw: str) -> str | None:
        doubt.once()
        return encoded(rows(raw))

    async with settlement_failed_by_cancel(chain, tmp_path, other_chain) as (
        node, _api, sell, buy, lies, _,
    ):  # fmt: skip
        await diagnosed_in_doubt(node, doubt, lies)
        pairs = node.barred_pairs
        assert len(pairs) == 1  # (before: 0, the pair matched again with no bound)
        for _ in range(pairs.tries - 2):
            pairs.note(sell.hash, buy.hash)
        assert pairs.note(sell.hash, buy.hash)  # (its failures so far counted: barred now)
