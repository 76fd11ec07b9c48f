"""gossip98 (left45 "Gossip"): a soft cancel taken while ``_rejudge_chunk`` holds an evicted
order read back from its row (the chunk waits on the chain: a bitmap order's state is read
there), its proof's write refused by the store (a lock): the sender is told 503, and the
proof is in memory alone. ``evict`` never drops such a record (it compares the committed
proof too, and writes it again: review71); the chunk's ``unload`` compared ``row()`` only,
and dropped it: the proof was gone unless the sender asked again.

Real Hardhat, a real node on a real SQLite file: maker 8's bitmap ask B closed by its
sibling's fill, evicted; the chunk started on B's row; B's cancel taken meanwhile, its
write refused; the lock gone, the proof must reach the store with nobody asking again."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from sdex.signature import sign_hash
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import closed_by_sibling
from tests.test_chaos69_refused_row import write_locked

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""


def stored_proof(db: Path, hash_hex: str) -> str | None:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        row = conn.execute("SELECT cancel_sig FROM orders WHERE hash=?", (hash_hex,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])


async def test_a_cancel_taken_during_a_rejudge_chunk_keeps_its_proof(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    maker, taker, nonce = 8, 9, 98
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db, closed_grace=0.2)) as (node, api):
        b, _ = await closed_by_sibling(c, node, api, maker, taker, nonce)
        await wait_for(lambda: node.watcher.caught_up.is_set(), timeout=BOUND)
        s = node.registry.stored(b.hash)
        assert s is not None and s.cancel_signature is None
        sig = sign_hash(c.domain.cancel_digest(b.hash), c.keys[maker])
        async with write_locked(node, db):
            chunk = asyncio.create_task(node._rejudge_chunk([s]))
            async with asyncio.timeout(BOUND):
                while b.hash not in node.records:
                    await asyncio.sleep(0)
            assert not chunk.done()  # (reading B's state from the chain)
            taken = node.soft_cancel(b.hash, sig)
            assert taken.status == 200 and taken.stored is not None, taken
            await chunk
            with contextlib.suppress(Exception):
                await taken.stored
            assert taken.stored.exception() is not None  # (refused by the lock: a 503)
        # the lock gone: the proof reaches the store with nobody asking again
        want = "0x" + sig.hex()
        await wait_for(lambda: stored_proof(db, b.hash_hex.lower()) == want, timeout=BOUND)
