"""watch81: a row a start in a chain doubt gave up unread (``mark_unread``) waits for the
doubt's end on its change (``ChainDoubt.wake``), not by looking at it every 0.1 s: a doubt
that stands for hours (``doubt.LONG``'s endpoint that flaps for good) cost ten looks a
second for as long. The row is still marked as its receipt says once the doubt ends.

Real Hardhat, a real node in this process with its SQLite store and its own ``ChainDoubt``
(its watcher not polling meanwhile), proven by the test as the watcher proves one."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from sdex.settlement.reconcile import mark_unread
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_held79_doubt_settlements import proven

HELD = 2.0
"""Seconds the doubt stands while ``mark_unread`` waits (before: about 20 looks; now one
per ``reconcile.DOUBT_LOOK``, a second, and one per change)."""
LOOKS = 5
"""Looks at the doubt taken at most meanwhile (a loaded machine's late wake-ups: room)."""


def status_of(db: Path, tx_hash: str) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT status FROM settlements WHERE tx_hash=?", (tx_hash,)).fetchone()
    return None if row is None else str(row[0])


async def test_an_unread_row_waits_on_the_doubts_change_and_is_marked_at_its_end(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    # (the watcher polls once at the start, then not in the test's time: no poll of it
    # proves the chain or says the doubt again meanwhile; only the test ends it)
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, poll_interval=600.0)
    async with running_node(cfg) as (node, _):
        await wait_for(node.replayed, timeout=60)
        tx = c.rpc.call(
            "eth_sendTransaction", {"from": c.address(15), "to": c.address(16), "value": "0x1"}
        )  # (mined: a receipt with status 1)
        await asyncio.wrap_future(node.store.add_settlement(tx, 10**9, "0x00", []))
        doubt = node.mirror.doubt
        doubt.said("a test's doubt")
        looks = 0

        def doubted() -> str:
            nonlocal looks
            looks += 1
            return doubt.held

        marking = asyncio.create_task(
            mark_unread(node.settler, [tx], doubted, lambda: 0, doubt.wake)
        )
        try:
            t0 = time.monotonic()
            await wait_for(lambda: time.monotonic() - t0 >= HELD, timeout=HELD + 30)
            assert doubt.held and status_of(node.config.db, tx) == "pending"
            assert looks <= LOOKS, looks  # before: one look every 0.1 s (about 20)
            proven(doubt)  # (its ``wake`` set: the receipt read at once)
            await wait_for(lambda: status_of(node.config.db, tx) == "mined", timeout=30)
            async with asyncio.timeout(30):
                await marking
        finally:
            marking.cancel()
