"""review86a: watch84's start hold (``Unapplied.start_gap``) rests on the start's one
``eth_blockNumber`` read (``Watcher.check_head``); a stale answer there holds nothing.

A start behind the chain holds signing with no bound till it has applied up to the head its
start read. When that one read comes from a lagging backend (a balancer's, as
``HeadsProxy.visible`` models: at the saved head) and the catch-up's reads of the latest
block then fail, no gap is known: the blocks the node's own latest read (``Node.prepare``)
showed are held ``BOUND`` as a running watcher's, then let go, and the node signs on the
saved head's book, behind blocks the chain has and it never read (fills, cancels, funds
moved while it was down): watch84's case again, its one piece of evidence stale. No poll
of the start applied anything.

Real Hardhat; a real node in-process stopped and started again on its SQLite store, the
second time behind a real loopback proxy (``tests.headsproxy``) whose ``eth_blockNumber``
answers the saved head and whose reads of the latest block answer null after the start's
first (watch84's test, its ``eth_blockNumber`` answered by the stale backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.watch import unapplied as watch_unapplied
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.startheads import behind_while_down, failing_catch_up, mined_while_down, ran_to_head
from tests.test_sign79_feed import WAIT

BOUND = 1.0


async def test_a_start_read_by_a_stale_backend_still_holds_signing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    saved, later = await behind_while_down(c, db, 2)  # (mined while the node is down)
    # (eth_blockNumber: a backend still at the saved head)
    async with failing_catch_up(c, db, visible=saved) as (proxy, node):
        w = node.watcher
        u = w.unapplied
        await wait_for(lambda: w.status != "ok", timeout=WAIT)
        await wait_for(lambda: u.behind_for() > BOUND + 0.5, timeout=WAIT)
        said = u.to_json()
        assert w.mirror.head is not None and w.mirror.head.number == saved
        assert w.applied is None  # (no poll of this start applied anything)
        # main: "free": nothing known past the saved head, the settler signs on its book
        assert said["signing"] == "held", said
        proxy.latest.clear()
        proxy.visible = None
        await wait_for(lambda: w.applied is not None and w.applied.hash == later[-1]["hash"],
                       timeout=WAIT)  # fmt: skip
        assert not u.holding()


async def test_one_lagging_answer_for_the_latest_does_not_end_the_start_hold(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's reads see the chain past the saved head (``start_gap`` set); the
    catch-up's first read of the latest block comes from a lagging backend (the saved head
    itself: ours, a backend behind), the later ones fail. ``Unapplied.saw`` takes that one
    lower latest as the chain gone back: the gap and the known blocks dropped, the poll
    found nothing new (``same``), the node ready and free to sign on the saved head's book
    at once, the chain two blocks past it."""
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    top = await ran_to_head(c, db)
    saved = int(top["number"], 16)
    later = mined_while_down(c, saved, 2)
    # (the node's start read; then a lagging backend's answer; then none)
    async with failing_catch_up(c, db, lagging=[top]) as (proxy, node):
        w = node.watcher
        u = w.unapplied
        await wait_for(lambda: w.status != "ok", timeout=WAIT)
        assert w.mirror.head is not None and w.mirror.head.number == saved
        said = u.to_json()
        # main: "free", startGap None, nothing known past the saved head
        assert said["signing"] == "held", said
        proxy.latest.clear()
        await wait_for(lambda: w.applied is not None and w.applied.hash == later[-1]["hash"],
                       timeout=WAIT)  # fmt: skip
        assert not u.holding()
