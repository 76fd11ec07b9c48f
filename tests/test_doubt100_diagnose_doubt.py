"""doubt100: a failed settlement's diagnosis (``NodeSettlement._diagnose``, in the results'
``finally``) read both orders at "latest" (``NodeBlame._read_failed``) with no look at a
doubt of the chain's identity: one said during its read (another chain's answer), the
orders were judged by it, as doubt82's reload judged them: an order the other chain had
"filled" was closed so here, acknowledged and fillable on ours. Now a diagnosis in a
doubt (held before it, or said during its read) judges nothing: the matches are released
(judged if they fail again).

Real Hardhat, a real node, a real proxy on loopback (left63's ``rows_proxy``) whose answer to
the diagnosis's read says every order filled, the doubt said (as the watcher says one)
before that answer is given; it ends by the watcher's polls once the test lets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.mirror import doubt as doubt_module
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.saiddoubt import SaidDoubt, diagnosed_in_doubt
from tests.test_left63_short_rows import encoded, rows, settlement_failed_by_cancel

FILLED = 2
"""``OrderStatus.FILLED``: the other chain's word, in every row of the lied answer (filled
in full)."""


async def test_a_diagnosis_judges_nothing_in_a_chain_doubt(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's ask cancelled on chain fails the settlement with Bob's bid; its diagnosis's
    read is answered "all filled" as a doubt is said. Before: Bob's bid closed
    ``filled`` (failed 1/1); now it stays open, the ask closed by our chain's block."""
    doubt = SaidDoubt(monkeypatch, "doubt100: another chain's answer")

    def other_chain(raw: str) -> str | None:
        doubt.once()
        out = rows(raw)
        for r in out:
            r[32:64] = FILLED.to_bytes(32, "big")
            r[64:96] = (10**30).to_bytes(32, "big")
        return encoded(out)

    async with settlement_failed_by_cancel(chain, tmp_path, other_chain) as (
        node, api, sell, buy, lies, _,
    ):  # fmt: skip
        await diagnosed_in_doubt(node, doubt, lies)
        assert (await api.status(buy)) == "open"  # (before: "filled", the other's word)
        monkeypatch.setattr(doubt_module, "AGREE", 2)  # (the watcher's polls end it)
        lies["armed"] = False
        await wait_for(lambda: not node.mirror.doubt.held, timeout=60)
        await wait_for(lambda: sell.hash not in node.book, timeout=30)
        assert (await api.status(sell)) == "cancelled"  # (our chain's block)
        assert (await api.status(buy)) == "open"
