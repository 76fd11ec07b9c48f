"""gossip98 (left44 "Gossip", review96c): a cancel of an evicted order reads its stored row
back (``soft_cancel``: ``registry.stored``, then ``load_stored``), as a cancel's retry does once
the record left memory with its proof unwritten (a rejudge page's ``unload`` checks the row,
not the proof). The row is a file's: hostile. A guard that this path trusts nothing a row
edit can turn against a maker: the row's order is bound to its hash (``order_of_row``), the
cancel is recovered against that order's maker before the row is loaded, and the record
loaded never enters the book.

A real node on a real SQLite file (the suite's Hardhat chain): Alice's ask cancelled, stored,
evicted; then its row altered by SQL (reopened, its proof cleared, its order's signature
replaced by Bob's). Bob's cancel of it is refused and changes nothing; Alice's (a peer's
repeat) closes it, stored with her proof, and the order stays out of the book and off the
open orders. Passed before any change: nothing here was exploitable (the report says why)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path

from sdex.gossip import NodeKey
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_cancel90_cancel_reaches_every_node import stored_row
from tests.test_node import ALICE, BOB, node_with_resting_ask

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""


def tamper(db: Path, hash_hex: str, signature: str) -> None:
    """The order's row reopened, its proof cleared, its order's signature ``signature``."""
    with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
        (text,) = conn.execute("SELECT order_json FROM orders WHERE hash=?", (hash_hex,)).fetchone()
        order = json.loads(text)
        order["signature"] = signature
        conn.execute(
            "UPDATE orders SET status='open', reason='', cancel_sig='', order_json=? WHERE hash=?",
            (json.dumps(order), hash_hex),
        )


async def test_a_cancel_of_an_evicted_order_whose_row_was_altered_is_checked_as_any(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    async with node_with_resting_ask(c, db) as (node, api, resting):
        h, hx = resting.hash, resting.hash_hex.lower()
        alice = notice_of(c, resting, c.keys[ALICE])
        first = node.cancel_notice(alice, NodeKey.generate().node_id)
        assert first.status == 200 and first.stored is not None
        await asyncio.wait_for(asyncio.shield(first.stored), BOUND)
        assert stored_row(db, resting) == ("cancelled", alice["signature"])

        async def evicted() -> bool:
            await node.registry.evict(time.monotonic() + 1e6)
            return h not in node.records

        await wait_for(evicted, timeout=BOUND)
        tamper(db, hx, notice_of(c, resting, c.keys[BOB])["signature"])  # (65 bytes, Bob's)
        assert stored_row(db, resting) == ("open", "")

        forged = node.cancel_notice(notice_of(c, resting, c.keys[BOB]), NodeKey.generate().node_id)
        assert forged.status != 200, forged.body
        assert h not in node.records and h not in node.book  # (not loaded by a forgery)
        assert stored_row(db, resting) == ("open", "")

        again = node.cancel_notice(alice, NodeKey.generate().node_id)  # (a repeat)
        assert again.status == 200 and again.stored is not None, again.body
        await asyncio.wait_for(asyncio.shield(again.stored), BOUND)
        assert stored_row(db, resting) == ("cancelled", alice["signature"])
        assert node.records[h].status == "cancelled"  # (loaded from the row: load_stored)
        assert h not in node.book
        assert await status_at(api, resting) == "cancelled"
