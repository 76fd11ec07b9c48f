"""A settlement's row once it landed (anvil60): its raw transaction, never sent again, is
dropped with the status change, and that change writes a few pages, not the row's ~50
overflow pages twice (rewritten, and the freed ones zeroed by SQLite's secure delete).
Real SQLite, the store's own connection settings and statements."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from sdex.store import SETTLEMENT_DONE, Store
from sdex.storeschema import open_schema
from tests.test_store import DOMAIN, IDENTITY

TX = "0x" + "ab" * 32
RAW = "0x02" + "5a" * 100_000
"""A batch of ~100 matches' signed transaction (~100 KB; 200 KB as hex)."""
PAIRS = [("0x" + "01" * 32, "0x" + "02" * 32)]


async def test_a_landed_settlement_keeps_no_raw_transaction_a_pending_one_does(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    other = "0x" + "cd" * 32
    for tx, nonce in ((TX, 7), (other, 8)):
        await asyncio.wrap_future(store.add_settlement(tx, nonce, RAW, PAIRS))
    await store.set_settlement_status(TX, "mined")
    store.close()
    with sqlite3.connect(db) as conn:
        rows = dict(
            (tx, (status, len(raw)))
            for tx, status, raw in conn.execute("SELECT tx_hash, status, raw_tx FROM settlements")
        )
    assert rows == {TX: ("mined", 0), other: ("pending", len(RAW))}


def _wal_frames(conn: sqlite3.Connection, path: Path) -> int:
    page = int(conn.execute("PRAGMA page_size").fetchone()[0])
    return (os.path.getsize(f"{path}-wal") - 32) // (24 + page)


def test_a_landed_settlements_status_change_writes_a_few_pages(tmp_path: Path) -> None:
    """On the writer's connection as the store sets it up (``open_schema``), with no
    checkpoint meanwhile: the WAL frames of the status change of a 200 KB (hex) row."""
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path, isolation_level=None)
    open_schema(conn)  # (the writer's PRAGMAS: WAL, no automatic checkpoint)
    row = (TX, 7, RAW, '[["0x01", "0x02"]]', "pending", 1.0, 1.0)
    conn.execute("INSERT INTO settlements VALUES (?,?,?,?,?,?,?)", row)
    before = _wal_frames(conn, path)
    conn.execute(SETTLEMENT_DONE, ("mined", 2.0, TX))
    written = _wal_frames(conn, path) - before
    conn.close()
    assert 0 < written <= 8, written  # (98 on main: ~49 pages rewritten, ~49 freed and zeroed)
