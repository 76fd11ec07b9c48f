"""review95: a peer's repeat of a cancel whose first writes the store refused writes the
order's closed row again, not its proof alone.

A soft cancel's first writes are the maker's signature (``set_cancel_signature``) and the
order's closed row (``cancelled``); each may fail alone, and the peer that sent it hears 503
and sends it again (``sdex.gossip.cancelstored``; a fetched one is taken again:
``sdex.gossip.fetchedcancels``). The repeat found the record closed in memory and wrote the
signature only (a wallet's repeat wrote the row too): its commit answered 200 "stored", the
sender dropped the cancel, and the row said ``open`` with the proof beside it. A restart
then served the order open, tradable: an acknowledged cancel lost.

Real Hardhat (the suite's chain), a real node served in-process on loopback, its SQLite store
refusing the cancel's writes (a trigger: a real refusal) while the first comes."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from sdex.gossip import NodeKey
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_cancel90_cancel_reaches_every_node import stored_row
from tests.test_node import ALICE, node_with_resting_ask

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""
REFUSE = (
    "CREATE TRIGGER no_cancel BEFORE UPDATE ON orders"
    " WHEN NEW.cancel_sig != '' OR NEW.status = 'cancelled'"
    " BEGIN SELECT RAISE(ABORT, 'refused here'); END"
)
"""The store refuses both of the cancel's writes: its proof and its closed row."""


async def test_a_peers_repeat_after_refused_writes_stores_the_closed_row(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    async with node_with_resting_ask(c, db) as (node, _api, resting):
        await wait_for(node.replayed, BOUND)
        notice = notice_of(c, resting, c.keys[ALICE])
        peer = NodeKey.generate().node_id
        with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
            conn.execute(REFUSE)
            try:
                first = node.cancel_notice(notice, peer)
                assert first.status == 200 and first.stored is not None
                with contextlib.suppress(Exception):  # (refused: the sender hears 503)
                    await asyncio.wait_for(asyncio.shield(first.stored), BOUND)
                assert first.stored.done() and first.stored.exception() is not None
            finally:
                conn.execute("DROP TRIGGER no_cancel")
        assert stored_row(db, resting) == ("open", ""), stored_row(db, resting)
        again = node.cancel_notice(notice, peer)  # (the sender's repeat, after its 503)
        assert again.status == 200 and again.stored is not None
        await asyncio.wait_for(asyncio.shield(again.stored), BOUND)  # (answered: stored)
        want = ("cancelled", notice["signature"])
        assert stored_row(db, resting) == want  # before: ("open", signature)
    async with running_node(node_config(c, db)) as (_node, api):  # (the restart)
        assert await status_at(api, resting) == "cancelled"  # before: open, tradable
