"""review70: a cancel two senders passed on is kept in each one's count (review69b), but
its store held one row, the first count's: a restart read it back into that count alone.
A hostile sender that passed the maker's cancel on first (it has every cancel from the
gossip) then evicted it after the restart with its own made-up cancels, the honest
sender's 202 "kept" lost, and the order, when it came, was booked open and traded. Now a
row is kept for each count that holds it. Real Hardhat, a real node on loopback and its
SQLite store, restarted; the peers' entry for cancels called in process with the
addresses they come from."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdex.node.orphans import OrphanCancels
from sdex.store import Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack38_soft_cancel_sync import taken_at
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_node import ALICE, E6, E18, ask
from tests.test_review69b_kept_cancel_twice import hostile_flood, kept_by_both
from tests.test_wal24_checkpoint import DOMAIN, IDENTITY


@pytest.mark.parametrize("flood", ["after", "before"])
async def test_a_cancel_two_counts_hold_outlives_the_first_ones_flood_and_a_restart(
    chain: Chain, tmp_path: Path, flood: str
) -> None:
    """The hostile first sender's flood ``after`` the restart: the restart read the cancel
    into both counts (before: into the first's alone, and the flood evicted it). ``before``
    it (review69b's): the first count let it go, the second's row is what is left, read back
    into that count (review69b rewrote the row to it)."""
    withdrawn = chain.sign(ask(chain, ALICE, E18, 1000 * E6))
    notice = notice_of(chain, withdrawn, chain.keys[ALICE])
    cfg = node_config(chain, tmp_path / "n.db")
    async with running_node(cfg) as (node, _api):
        node.orphan_cancels = OrphanCancels(per_sender=50, total=1000)
        await kept_by_both(node, notice)
        if flood == "before":
            await hostile_flood(node, notice)
    async with running_node(cfg) as (node, api):
        node.orphan_cancels = OrphanCancels(per_sender=50, total=1000)
        await node.load_orphans()  # (read again as a start reads them, with these bounds)
        if flood == "after":
            assert len(node.orphan_cancels) == 2  # (before: 1, the first count's)
            await hostile_flood(node, notice)  # (its own made-up cancels: its bound is 50)
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body  # before: open
        await taken_at(api, chain, withdrawn)


OLD_TABLE = """CREATE TABLE orphan_cancels (
    order_hash TEXT NOT NULL, signature TEXT NOT NULL, sender TEXT NOT NULL,
    bucket TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (order_hash, signature))"""
"""The table as a store from before review70 has it: a row a cancel."""


async def test_a_store_keyed_a_row_a_cancel_keeps_its_rows_and_takes_a_row_a_count(
    tmp_path: Path,
) -> None:
    """A store of the earlier shape is made again at its first open, its rows kept (the
    cancels it acknowledged still apply), and from then on a second count's row is kept."""
    path = tmp_path / "old.db"
    Store(path, IDENTITY, DOMAIN).close()
    h, sig = "0x" + "aa" * 32, "0x" + "bb" * 65
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE orphan_cancels")
        db.execute(OLD_TABLE)
        db.execute("INSERT INTO orphan_cancels VALUES (?,?,?,?,?)", (h, sig, "a", "a", 1e9))
    store = Store(path, IDENTITY, DOMAIN)
    try:
        row = (bytes.fromhex(h[2:]), bytes.fromhex(sig[2:]), "b", "strangers:b", 2e9)
        await store.keep_orphan(row)
        rows = await store.orphan_rows(0.0, 10)
    finally:
        store.close()
    assert [(r[2], r[3]) for r in rows] == [("a", "a"), ("b", "strangers:b")]
