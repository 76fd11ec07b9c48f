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

Real parts as in ``tests.startheads`` (Hardhat, a node in this process restarted on its store
behind a loopback proxy failing the catch-up's reads of the latest block)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.watch import unapplied as watch_unapplied
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.startheads import behind_while_down, caught_up, failing_catch_up, held_past
from tests.test_sign79_feed import WAIT
from tests.test_watch83_start_hold import BOUND


async def test_a_start_behind_holds_signing_past_bound_till_caught_up(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    saved, later = await behind_while_down(c, db, 2)  # (mined while the node is down)
    latest = int(later[-1]["number"], 16)
    async with failing_catch_up(c, db) as (proxy, node):
        w = node.watcher
        u = w.unapplied
        said = await held_past(node, BOUND)
        assert w.mirror.head.number == saved  # (not caught up: the case in point)
        assert (said["appliedBlock"], said["oldestUnapplied"]) == (saved, saved + 1), said
        # before: "not held: past bound", the settler free to sign on the saved head's book
        assert said["signing"] == "held", said
        assert said["startGap"] == latest, said
        assert u.holding() and u.let_go == 0
        await wait_for(lambda: w.status != "ok", timeout=WAIT)
        problem = node.chain_health()["problem"]  # (/health's chainMirror.problem)
        assert isinstance(problem, str) and f"behind the chain's block {latest}" in problem
        said = await caught_up(proxy, node, later[-1])
        assert said["startGap"] is None, said
        assert not u.holding()
