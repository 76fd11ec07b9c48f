"""start86: a start's gap hold (``Unapplied.start_gap``) is lowered only by a lower head
proven (a poll's answer and ``AGREE`` reads of the head, each on a connection of its own:
``Watcher._proven_below``), and lowered then, ``told`` with it.

left40 (review84): ``check_head``'s one wrong answer far above the chain raised ``told``
(the highest block the chain's word told of) for good: every announcement up to it was
counted late, and each send asked the chain's head, for as long as the chain stayed below
the phantom. A chain that really went back below the gap (a rewind while the node read it)
lowers the gap: the hold is not for ever.

Real Hardhat; a real node in-process stopped and started again on its SQLite store, the
second time behind a real loopback proxy (``tests.headsproxy``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.watch import unapplied as watch_unapplied
from sdex.watch.unapplied import Unapplied
from tests.conftest import Chain
from tests.headsproxy import heads_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.startheads import failing_catch_up, held_past, mined_while_down, ran_to_head
from tests.test_mirror import revert
from tests.test_sign79_feed import WAIT, head, pay

BOUND = 1.0
"""``BOUND`` for these tests (the rule's the same, the wait shorter)."""
PHANTOM = 1_000
"""Blocks past the chain the start's one wrong ``eth_blockNumber`` answers (within
``CATCH_UP_BLOCKS``: the saved mirror resumed)."""


SAVED = 40
"""The saved head of the table's starts (``Unapplied`` alone: no chain)."""
STEPS: list[tuple[str, list[tuple[str, int]], int | None, int]] = [
    # (case, steps after ``caught_up(SAVED)``, start_gap, told), each number past SAVED
    ("a stale first read, a later one higher", [("start", 0), ("saw", 2)], 2, 2),
    ("a poll's lower latest, unproven", [("start", 2), ("polled", 0)], 2, 2),
    ("a poll's higher latest while starting", [("start", 2), ("polled", 5)], 5, 5),
    ("reads once ready: a running watcher's", [("start", 2), ("ready", 0), ("saw", 5)], 2, 5),
    ("an announcement while starting", [("start", 2), ("feed", 5)], 2, 2),
    ("a phantom, then a lower head proven", [("start", 1000), ("back", 3)], 3, 3),
    ("a lower head proven, at the book", [("start", 2), ("back", 0)], None, 0),
    ("a higher head 'proven'", [("start", 2), ("back", 4)], 2, 2),
    ("applied up to the gap", [("start", 2), ("applied", 2)], None, 2),
]


@pytest.mark.parametrize(("case", "steps", "gap", "told"), STEPS, ids=[s[0] for s in STEPS])
def test_the_start_gap_rules(
    case: str, steps: list[tuple[str, int]], gap: int | None, told: int
) -> None:
    u = Unapplied()
    u.caught_up(SAVED)
    act = {
        "start": u.behind_at_start,
        "saw": u.saw,
        "polled": lambda n: u.saw(n, polled=True),
        "feed": u.announced,
        "ready": lambda n: u.from_now(),
        "back": u.back_at_start,
        "applied": u.caught_up,
    }
    for step, past in steps:
        act[step](SAVED + past)
    assert u.start_gap == (None if gap is None else SAVED + gap), case
    assert u.told == SAVED + told, case
    assert u.holding() == (gap is not None), case


async def test_a_wrong_head_far_above_at_the_start_is_not_told_for_good(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    saved = int((await ran_to_head(c, db))["number"], 16)
    pay(c, 3)  # (mined while the node is down)
    phantom = int(head(c)["number"], 16) + PHANTOM
    async with heads_proxy(c.rpc.url) as proxy:
        proxy.numbers = [hex(phantom)]  # (``check_head``'s read: one wrong answer)
        async with running_node(node_config(c, db, rpc=proxy.url)) as (node, _):
            w, u = node.watcher, node.watcher.unapplied
            assert proxy.numbers == [] and proxy.number_reads >= 1
            top = head(c)
            await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"],
                           timeout=WAIT)  # fmt: skip
            assert int(top["number"], 16) > saved
            await wait_for(lambda: u.start_gap is None, timeout=WAIT)  # (a task's: watch88)
            said = u.to_json()
            assert said["startGap"] is None and said["latestKnown"] == w.applied.number, said
            # main: told stayed at the phantom, each announcement up to it late
            assert u.told < phantom, (u.told, phantom)
            u.announced(w.applied.number + 1)  # (the next block's announcement: on time)
            assert u.late == 0 and u.on_time()


async def test_a_chain_gone_back_below_the_start_gap_ends_the_hold(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start reads the chain two blocks past the saved head, the catch-up's reads fail;
    the chain is then rewound to the saved head (``evm_revert``): the polls' answers and the
    head read again on connections of their own all say it, and the gap is lowered (none:
    the book is at that head), signing free again."""
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    saved = int((await ran_to_head(c, db))["number"], 16)
    snap = c.rpc.call("evm_snapshot")
    later = mined_while_down(c, saved, 2)
    latest = int(later[-1]["number"], 16)
    async with failing_catch_up(c, db) as (proxy, node):
        w, u = node.watcher, node.watcher.unapplied
        await wait_for(lambda: w.status != "ok", timeout=WAIT)
        assert u.to_json()["startGap"] == latest and u.holding()
        revert(c, snap)  # (the chain back at the saved head: the two blocks gone)
        assert int(head(c)["number"], 16) == saved
        proxy.latest.clear()
        await wait_for(lambda: u.start_gap is None, timeout=WAIT)
        await wait_for(lambda: w.status == "ok", timeout=WAIT)
        said = u.to_json()
        assert said["signing"] == "free" and said["oldestUnapplied"] is None, said
        assert not u.holding()
        assert w.mirror.head is not None and w.mirror.head.number == saved


async def test_a_start_read_only_by_its_catch_up_still_holds_signing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """left40: a start reading the head from a lagging backend (``check_head``'s
    ``eth_blockNumber`` and the node's read of the latest block both the saved head), the
    catch-up's first poll then answered by the chain's (two blocks on), its reads of those
    blocks by the lagging one (null): the blocks were held ``BOUND`` as a running
    watcher's, then signed past. The catch-up's read is a start read too: the gap is it."""
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    top = await ran_to_head(c, db)
    saved = int(top["number"], 16)
    later = mined_while_down(c, saved, 2)
    latest = int(later[-1]["number"], 16)
    async with heads_proxy(c.rpc.url) as proxy:
        proxy.passes = lambda note: False
        proxy.visible = saved  # (a backend at the saved head: blocks above it null)
        proxy.latest = [top, head(c)] + [None] * 100_000  # (the node's, the catch-up's)
        async with running_node(node_config(c, db, rpc=proxy.url)) as (node, _):
            w, u = node.watcher, node.watcher.unapplied
            await wait_for(lambda: proxy.latest_reads >= 3 and proxy.hidden >= 1, timeout=WAIT)
            await wait_for(lambda: w.status != "ok", timeout=WAIT)
            said = await held_past(node, BOUND)
            assert w.mirror.head.number == saved
            # main: "not held: past bound", the settler free to sign on the saved head's book
            assert said["signing"] == "held" and said["startGap"] == latest, said
            proxy.latest.clear()
            proxy.visible = None
            await wait_for(lambda: w.applied is not None and w.applied.hash == later[-1]["hash"],
                           timeout=WAIT)  # fmt: skip
            assert u.to_json()["startGap"] is None and not u.holding()
