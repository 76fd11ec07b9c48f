"""watch81: a row a start in a chain doubt gave up unread (``mark_unread``) waits for the
doubt's end on its change (``ChainDoubt.wake``), not by looking at it every 0.1 s: a doubt
that stands for hours (``doubt.LONG``'s endpoint that flaps for good) cost ten looks a
second for as long. The row is still marked as its receipt says once the doubt ends.

Real Hardhat, a real node in this process with its SQLite store and its own ``ChainDoubt``,
kept standing by the watcher's polls (the block it was said of read again, another hash
than the one said ours) till the test proves it as the watcher proves one."""

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
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _):
        await wait_for(node.replayed, timeout=60)
        tx = c.rpc.call(
            "eth_sendTransaction", {"from": c.address(15), "to": c.address(16), "value": "0x1"}
        )  # (mined: a receipt with status 1)
        mined = int(c.rpc.call("eth_getTransactionReceipt", tx)["blockNumber"], 16)
        w = node.watcher  # (its block applied first: no block to prove our chain meanwhile)
        await wait_for(lambda: w.applied is not None and w.applied.number >= mined, timeout=60)
        await asyncio.wrap_future(node.store.add_settlement(tx, 10**9, "0x00", []))
        doubt = node.mirror.doubt
        deploy = node.config.deploy_block
        doubt.said("a test's doubt", (deploy, "0x" + "cd" * 32))  # (the watcher renews it)
        looks = 0

        def doubted() -> str:
            nonlocal looks
            looks += 1
            return doubt.held

        marking = asyncio.create_task(mark_unread(node.settler, [tx], doubted, lambda: 0))
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
