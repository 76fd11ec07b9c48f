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

import asyncio
from pathlib import Path

import pytest

from sdex.mirror import doubt as doubt_module
from tests.conftest import Chain
from tests.nodeutil import wait_for
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
    loop = asyncio.get_running_loop()
    said: list[int] = []
    monkeypatch.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
    made: list[doubt_module.ChainDoubt] = []  # (the node's mirror's: one mirror here)
    init = doubt_module.ChainDoubt.__init__

    def kept(self: doubt_module.ChainDoubt) -> None:
        init(self)
        made.append(self)

    monkeypatch.setattr(doubt_module.ChainDoubt, "__init__", kept)

    async def say() -> None:
        made[-1].said("doubt100: another chain's answer")

    def other_chain(raw: str) -> str | None:
        if not said:
            said.append(1)
            asyncio.run_coroutine_threadsafe(say(), loop).result(10)
        out = rows(raw)
        for r in out:
            r[32:64] = FILLED.to_bytes(32, "big")
            r[64:96] = (10**30).to_bytes(32, "big")
        return encoded(out)

    async with settlement_failed_by_cancel(chain, tmp_path, other_chain) as (
        node, api, sell, buy, lies, _,
    ):  # fmt: skip
        await wait_for(lambda: bool(said) and lies["lied"] >= 1, timeout=30)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
        await wait_for(lambda: not node._results_lock.locked(), timeout=30)  # (diagnosed)
        assert node.mirror.doubt is made[-1] and node.mirror.doubt.held
        assert (await api.status(buy)) == "open"  # (before: "filled", the other's word)
        monkeypatch.setattr(doubt_module, "AGREE", 2)  # (the watcher's polls end it)
        lies["armed"] = False
        await wait_for(lambda: not node.mirror.doubt.held, timeout=60)
        await wait_for(lambda: sell.hash not in node.book, timeout=30)
        assert (await api.status(sell)) == "cancelled"  # (our chain's block)
        assert (await api.status(buy)) == "open"
