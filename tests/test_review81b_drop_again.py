"""review81b: review81's drop written again (``Store.drop_unsent``) leaves alone a row recorded
again at the same hash since the drop was asked.

A settlement given back unsent is dropped, and a drop the store refused (locked past its busy
timeout) is written again a second later, doubled to 30 s, till it commits. Meanwhile the lane
may sign the same matches at the same nonce again (the nonce given back, the same pair matched
again: a reorg reopened the order that withdrew it; the fees the same, an idle chain's base fee
at its floor): the same bytes, the same hash, recorded ``pending`` and sent. The drop's retry
then marked that sent settlement's row ``dropped``, its raw bytes erased: a kill before it was
mined left no row for the restart to adopt, its orders matched again while its bytes were
pooled (a paid revert). Real SQLite, the store locked from another connection."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sdex.sqlwriter import StoreError
from sdex.store import Store
from tests.nodeutil import wait_for
from tests.test_store import DOMAIN, IDENTITY
from tests.withdrawnutil import locked_db

TX = "0x" + "12" * 32
RAW = "0x02f8" + "ab" * 100


def row(db: Path) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        got = conn.execute("SELECT status, raw_tx FROM settlements WHERE tx_hash=?", (TX,))
        status, raw = got.fetchone()
    return str(status), str(raw)


async def test_a_refused_drops_retry_leaves_a_row_recorded_again_alone(tmp_path: Path) -> None:
    """A pending row's drop refused (the store locked); the same transaction recorded again
    (the same bytes signed again at the given-back nonce) once the lock is let go; the drop's
    retry comes: the row stays ``pending`` with its bytes (before: ``dropped``, raw erased)."""
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    try:
        pairs = [("0x" + "01" * 32, "0x" + "02" * 32)]
        await asyncio.wrap_future(store.add_settlement(TX, 7, RAW, pairs))
        lock = locked_db(db)
        try:
            drop = store.drop_unsent(TX, again=0.5)
            try:
                await drop
            except StoreError:
                pass  # (refused: the lock held past the writer's busy timeout)
            else:
                raise AssertionError("the drop was not refused")
        finally:
            lock.rollback()
            lock.close()
        # the same bytes signed again at the nonce given back: recorded, its drop of the
        # given-back row in the same transaction (settle80)
        await asyncio.wrap_future(store.add_settlement(TX, 7, RAW, pairs, given_back=[TX]))
        assert row(db) == ("pending", RAW)
        await wait_for(lambda: store.drops_retried >= 1, timeout=30)
        await store.set_settlement_status("0x" + "00" * 32, "dropped", urgent=True)  # (after it)
        assert row(db) == ("pending", RAW), row(db)  # (before: ("dropped", ""))
    finally:
        store.close()
