"""watch83 (review82b): a start whose catch-up fails holds signing till the book is brought
to the chain it saw.

1. A saved head proven replaced at the start (``check_head``: another hash, said twice) was
   held only ``BOUND`` (watch82): the start keeps ``resumed`` true with saved blocks, the
   stored orders judged from the replaced branch's mirror; with the catch-up's polls failing
   past ``BOUND`` the settler signed on that book (a paid revert, each match an order the
   new branch filled or cancelled). Now such a head holds signing till its unwind is
   applied (or the chain proves it ours after all), with no bound; ``/health`` says so.
2. The start's own reads of the chain's head (``check_head``'s ``eth_blockNumber``, the
   node's read of the latest block) never reached ``Unapplied.saw``: a start on a saved head
   the chain has moved past, whose first catch-up poll failed, knew no block it had not
   applied, and signing was free on the saved head's book. Now the blocks those reads
   showed are known and not applied, held as a running watcher's are.

Real Hardhat; a real node in-process stopped and started again on its SQLite store, the
second time behind a real loopback proxy (``tests.headsproxy``) whose reads of the latest
block answer null after the start's first (the catch-up's, and ``run``'s, fail)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdex.watch import unapplied as watch_unapplied
from tests.conftest import Chain
from tests.startheads import (
    behind_while_down,
    caught_up,
    failing_catch_up,
    held_past,
    replaced_while_down,
)

BOUND = 1.0
"""``BOUND`` for these tests (the rule's the same, the wait shorter)."""


async def test_a_replaced_head_holds_signing_past_bound_till_undone(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    old, new, n = await replaced_while_down(c, db)
    async with failing_catch_up(c, db) as (proxy, node):
        w = node.watcher
        u = w.unapplied
        said = await held_past(node, BOUND)
        assert w.mirror.head.hash == old["hash"]  # (not undone yet: the case in point)
        # before: "not held: past bound", the settler free to sign on N's book
        assert said["signing"] == "held", said
        assert said["startUnwind"] == n, said
        assert u.holding() and u.let_go == 0
        problem = node.chain_health()["problem"]  # (/health's chainMirror.problem)
        assert isinstance(problem, str) and f"saved head {n} was replaced" in problem
        said = await caught_up(proxy, node, new)
        assert said["startUnwind"] is None, said
        assert not u.holding() and w.reorgs == 1


async def test_a_start_behind_the_chain_holds_signing_when_its_catch_up_fails(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    saved, later = await behind_while_down(c, db, 3)  # (mined while the node is down)
    latest = int(later[-1]["number"], 16)
    reads: list[float] = []
    async with failing_catch_up(c, db, lambda: reads.append(time.monotonic())) as (proxy, node):
        w = node.watcher
        u = w.unapplied
        said = u.to_json()
        # (held ``BOUND`` from the node's readiness, after the catch-up failed: a load
        # longer than ``BOUND`` would have let it go before the first signing)
        assert u.known and u.known[0][1] >= reads[1], (u.known[:1], reads[:2])
        assert w.resumed and w.applied is None
        assert w.mirror.head is not None and w.mirror.head.number == saved
        # before: nothing known (appliedBlock -1, oldestUnapplied None), signing free
        assert (said["appliedBlock"], said["oldestUnapplied"]) == (saved, saved + 1), said
        assert said["latestKnown"] == latest and said["signing"] == "held", said
        await caught_up(proxy, node, later[-1])
