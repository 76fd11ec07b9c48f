"""watch84: a start behind the chain holds signing, with no bound, till it has applied the
blocks it saw.

watch83 has a start whose saved head the chain has moved past (not replaced) know the blocks
since as not applied (``Unapplied.saw``), each held ``BOUND`` (5 s) from the node's
readiness, as a running watcher's are. With the catch-up's reads failing longer than that,
the hold let go and the node signed on the saved head's book, known to be behind blocks the
chain has (fills, cancels, funds moved while the node was down: paid reverts). ``BOUND``
exists so a running watcher whose store or endpoint flaps does not stall settlement for
good; a start has never read those blocks at all. Now such a start holds signing till the
node has applied up to the head it saw (``Unapplied.start_gap``; lowered only by a poll's
lower latest), and ``/health``'s ``chainMirror.problem`` says why while the catch-up fails.

Real Hardhat; a real node in-process stopped and started again on its SQLite store, the
second time behind a real loopback proxy (``tests.headsproxy``) whose reads of the latest
block answer null after the start's first (the catch-up's, and ``run``'s, fail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.watch import unapplied as watch_unapplied
from tests.conftest import Chain
from tests.headsproxy import heads_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_sign79_feed import WAIT, head, pay

BOUND = 1.0
"""``BOUND`` for this test (the rule's the same, the wait shorter)."""


async def test_a_start_behind_holds_signing_past_bound_till_caught_up(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, _):
        w = node.watcher
        top = head(c)
        await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"],
                       timeout=WAIT)  # fmt: skip
        saved = int(top["number"], 16)
    later = [pay(c, 3 + i) for i in range(2)]  # (mined while the node is down)
    latest = int(later[-1]["number"], 16)
    assert latest == saved + 2
    async with heads_proxy(c.rpc.url) as proxy:
        proxy.passes = lambda note: False
        proxy.latest = [head(c)] + [None] * 100_000  # (the start's read, then no answer)
        async with running_node(node_config(c, db, rpc=proxy.url)) as (node, _):
            w = node.watcher
            u = w.unapplied
            await wait_for(lambda: proxy.latest_reads >= 3, timeout=WAIT)  # (the catch-up's)
            await wait_for(lambda: u.behind_for() > BOUND + 0.5, timeout=WAIT)
            said = u.to_json()
            assert w.applied is None and w.mirror.head is not None
            assert w.mirror.head.number == saved  # (not caught up: the case in point)
            assert (said["appliedBlock"], said["oldestUnapplied"]) == (saved, saved + 1), said
            # before: "not held: past bound", the settler free to sign on the saved head's book
            assert said["signing"] == "held", said
            assert said["startGap"] == latest, said
            assert u.holding() and u.let_go == 0
            await wait_for(lambda: w.status != "ok", timeout=WAIT)
            problem = node.chain_health()["problem"]  # (/health's chainMirror.problem)
            assert isinstance(problem, str) and f"behind the chain's block {latest}" in problem
            proxy.latest.clear()
            await wait_for(lambda: w.applied is not None and w.applied.hash == later[-1]["hash"],
                           timeout=WAIT)  # fmt: skip
            said = u.to_json()
            assert said["oldestUnapplied"] is None and said["signing"] == "free", said
            assert said["startGap"] is None, said
            assert not u.holding()
