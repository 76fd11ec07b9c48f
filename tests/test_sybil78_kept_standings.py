"""sybil78: a peer's delivered value (``standings.Standing.delivered``) is kept across a
restart, keyed by the id it proved (``sdex.storestandings``), so the sybils that deliver
first after it do not take the top places (``Peers.leading``: a bound of pending reads and a
budget of chain reads of their own) from the peers that delivered for an hour before it.

It was in memory only: each restart reset every peer's to nothing, and 8 sybils pushing
fresh orders of their own funded account (signatures are free) held the 8 places, each with
its own bound of reads, until the honest peers had delivered longer than they had (as long as
the sybils kept delivering: for ever, if they started first).

A real node on a real Hardhat, stopped and started again on the same SQLite database; the
pushes checked through the node's own gossip driver (checks75's ``push``). The store's rows
read back bounded: a real SQLite file edited by hand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdex.gossip.peers import Peers
from sdex.gossip.standings import KEEP_IDLE_SECONDS, MAX_DELIVERED
from sdex.node.readbudget import STRANGERS, peer_sender
from sdex.storestandings import MAX_KEPT, TABLE
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_checks75_held_reads import HONEST, done, push
from tests.test_node import ALICE, BOB, E6, E18, ask

TOP, BAR = 8, 5


def sybil(k: int) -> str:
    return "0x" + f"{0x40 + k:02x}" * 20


async def test_a_restart_keeps_the_peers_delivered_value(chain: Chain, tmp_path: Path) -> None:
    """An honest peer at the cap of delivered value (an hour of it); the node stops and
    starts again; 8 sybils deliver at the top rate from the start (6 points each, a minute of
    it), then the honest peer's first check after the restart: it is among the top 8, its
    reads its own budget's, and at most 7 sybils are."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, _api):
        g = node.gossip
        assert g is not None
        before = push(g, HONEST, c.sign(ask(c, ALICE, E18, 3100 * E6)))  # (at the cap)
        await wait_for(done(before), 30)
        assert before.result()["accepted"] == 1, before.result()
        assert g.peers.standing(HONEST).delivered == MAX_DELIVERED
    async with running_node(cfg) as (node, _api):
        g = node.gossip
        assert g is not None
        for k in range(TOP):
            task = push(g, sybil(k), c.sign(ask(c, BOB, E18 + k, (3200 + k) * E6)), standing=False)
            await wait_for(done(task), 30)
            assert task.result()["accepted"] == 1, task.result()
            s = g.peers.standing(sybil(k))  # (a minute at the top rate since the restart)
            s.delivered, s.delivered_at = BAR + 1, g.peers.clock()
        g.peers._leaders.stale()
        assert g.peers.leading(TOP, BAR) == {sybil(k) for k in range(TOP)}
        after = push(g, HONEST, c.sign(ask(c, ALICE, E18, 3300 * E6)), standing=False)
        await wait_for(done(after), 30)
        assert after.result()["accepted"] == 1, after.result()
        top = g.peers.leading(TOP, BAR)
        assert HONEST in top, g.peers.standing(HONEST)
        assert len(top - {HONEST}) == TOP - 1
        assert peer_sender(g, HONEST) == HONEST and peer_sender(g, sybil(0)) in (
            sybil(0),
            STRANGERS,
        )


GOOD = ("0x" + "ab" * 20, 100, 5.0, 1.0, 7.0)


@pytest.mark.parametrize(
    "bad",
    [
        ("ab" * 20, 100, 5.0, 1.0, 7.0),  # (no 0x)
        ("0x" + "ab" * 40, 100, 5.0, 1.0, 7.0),  # (too long)
        ("0x", 100, 5.0, 1.0, 7.0),
        ("0x" + "zz" * 20, 100, 5.0, 1.0, 7.0),  # (not hex)
        ("0x" + "cd" * 20, 0, 5.0, 1.0, 7.0),  # (no points)
        ("0x" + "cd" * 20, MAX_DELIVERED + 1, 5.0, 1.0, 7.0),  # (past the cap)
        ("0x" + "cd" * 20, "lots", 5.0, 1.0, 7.0),  # (text: no number)
        ("0x" + "cd" * 20, 100, -5.0, 1.0, 7.0),  # (credited in the future)
        ("0x" + "cd" * 20, 100, 5.0, float("inf"), 7.0),
        ("0x" + "cd" * 20, 100, 5.0, 1.0, -1.0),  # (traded in the future)
        ("0x" + "cd" * 20, 100, "soon", 1.0, 7.0),
    ],
)
async def test_a_kept_row_that_is_not_a_standing_is_skipped(
    chain: Chain, tmp_path: Path, bad: tuple[object, ...]
) -> None:
    """Rows edited into the database: the good one restored, the bad one skipped."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    with sqlite3.connect(cfg.db) as db:
        db.execute(TABLE)
        db.execute("INSERT INTO peer_standings VALUES (?,?,?,?,?)", GOOD)
        db.execute("INSERT INTO peer_standings VALUES (?,?,?,?,?)", bad)
    async with running_node(cfg) as (node, _api):
        rows = await node.store.standing_rows(MAX_DELIVERED)
        assert rows == [GOOD]
        g = node.gossip
        assert g is not None
        assert g.peers.standing(GOOD[0]).delivered == 100


async def test_at_most_max_kept_are_kept_the_earliest_first(chain: Chain, tmp_path: Path) -> None:
    """More peers than ``MAX_KEPT`` delivered: the ones that began earliest are kept."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, _api):
        g = node.gossip
        assert g is not None
        rows = [(f"0x{k:040x}", 1 + k % 300, 10.0, 10.0, 36000.0) for k in range(MAX_KEPT + 50)]
        g.peers.restore(rows)
        kept = g.peers.kept(MAX_KEPT)
        assert len(kept) == MAX_KEPT
        least = min(r[1] for r in kept)
        assert all(r[1] <= least for r in rows if r[0] not in {k[0] for k in kept})
    async with running_node(cfg) as (node, _api):
        got = await node.store.standing_rows(MAX_DELIVERED)
        assert len(got) == MAX_KEPT


def test_a_standing_idle_past_keep_idle_seconds_is_not_kept() -> None:
    """Ids restored but gone (not delivered for over ``KEEP_IDLE_SECONDS``) give up their
    rows, however early they began."""
    peers = Peers("0x" + "01" * 20, "http://127.0.0.1:1")
    idle = KEEP_IDLE_SECONDS
    gone, here = "0x" + "0a" * 20, "0x" + "0b" * 20
    peers.restore([(gone, MAX_DELIVERED, idle + 5, idle + 5, idle + 5), (here, 5, 1, 1, idle)])
    assert [r[0] for r in peers.kept(MAX_KEPT)] == [here]
