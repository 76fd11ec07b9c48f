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
from tests.headsproxy import heads_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import revert
from tests.test_sign79_feed import WAIT, head, pay

BOUND = 1.0
"""``BOUND`` for these tests (the rule's the same, the wait shorter)."""


async def test_a_replaced_head_holds_signing_past_bound_till_undone(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, _):
        w = node.watcher
        snap = c.rpc.call("evm_snapshot")
        old = pay(c, 1)
        n = int(old["number"], 16)
        await wait_for(lambda: w.applied is not None and w.applied.hash == old["hash"],
                       timeout=WAIT)  # fmt: skip
    revert(c, snap)
    new = pay(c, 2)  # (N' in N's place while the node is down)
    assert int(new["number"], 16) == n and new["hash"] != old["hash"]
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
            assert w.mirror.head.hash == old["hash"]  # (not undone yet: the case in point)
            # before: "not held: past bound", the settler free to sign on N's book
            assert said["signing"] == "held", said
            assert said["startUnwind"] == n, said
            assert u.holding() and u.let_go == 0
            problem = node.chain_health()["problem"]  # (/health's chainMirror.problem)
            assert isinstance(problem, str) and f"saved head {n} was replaced" in problem
            proxy.latest.clear()
            await wait_for(lambda: w.applied is not None and w.applied.hash == new["hash"],
                           timeout=WAIT)  # fmt: skip
            said = u.to_json()
            assert said["oldestUnapplied"] is None and said["signing"] == "free", said
            assert said["startUnwind"] is None, said
            assert not u.holding() and w.reorgs == 1


async def test_a_start_behind_the_chain_holds_signing_when_its_catch_up_fails(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, _):
        w = node.watcher
        top = head(c)
        await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"],
                       timeout=WAIT)  # fmt: skip
        saved = int(top["number"], 16)
    later = [pay(c, 3 + i) for i in range(3)]  # (mined while the node is down)
    latest = int(later[-1]["number"], 16)
    assert latest == saved + 3
    async with heads_proxy(c.rpc.url) as proxy:
        proxy.passes = lambda note: False
        proxy.latest = [head(c)] + [None] * 100_000  # (the start's read, then no answer)
        reads: list[float] = []
        proxy.on_latest = lambda: reads.append(time.monotonic())
        async with running_node(node_config(c, db, rpc=proxy.url)) as (node, _):
            w = node.watcher
            u = w.unapplied
            await wait_for(lambda: proxy.latest_reads >= 3, timeout=WAIT)  # (the catch-up's)
            said = u.to_json()
            # (held ``BOUND`` from the node's readiness, after the catch-up failed: a load
            # longer than ``BOUND`` would have let it go before the first signing)
            assert u.known and u.known[0][1] >= reads[1], (u.known[:1], reads[:2])
            assert w.resumed and w.applied is None
            assert w.mirror.head is not None and w.mirror.head.number == saved
            # before: nothing known (appliedBlock -1, oldestUnapplied None), signing free
            assert (said["appliedBlock"], said["oldestUnapplied"]) == (saved, saved + 1), said
            assert said["latestKnown"] == latest and said["signing"] == "held", said
            proxy.latest.clear()
            await wait_for(lambda: w.applied is not None and w.applied.hash == later[-1]["hash"],
                           timeout=WAIT)  # fmt: skip
            said = u.to_json()
            assert said["oldestUnapplied"] is None and said["signing"] == "free", said
