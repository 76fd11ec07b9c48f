"""settle69: a start reads back the latest given-up settlements (``dropped_rows``: ordered
by ``updated_at``, a column no index held): SQLite read every row of ``settlements`` (one a
settlement the node ever signed: most ``mined``) and sorted the dropped ones, at each start.
Now a partial index (``settlements_dropped``) holds the dropped rows by ``updated_at``, made
at the first open of an older store; the read walks the latest 256 of it (failed before:
no such index, the query plan a scan of the table and a sort)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sdex.order import Domain
from sdex.store import ChainIdentity, Store
from sdex.storesettle import GIVEN_UP_KEPT, dropped_rows

IDENTITY = ChainIdentity(31337, "0x" + "11" * 20, "0x" + "22" * 32)
DOMAIN = Domain(31337, "0x" + "11" * 20)


def test_an_older_stores_given_up_settlements_are_read_through_an_index(
    tmp_path: Path,
) -> None:
    db = tmp_path / "n.db"
    Store(db, IDENTITY, DOMAIN).close()
    rows = [  # (hash, nonce, raw, pairs, status, created, updated): dropped every 3rd
        (f"0x{i:064x}", i, "", "[]", "dropped" if i % 3 == 0 else "mined", i, float(i))
        for i in range(3 * GIVEN_UP_KEPT + 30)
    ]
    with sqlite3.connect(db) as conn:  # (as an older version left it: no index of ours)
        conn.execute("DROP INDEX IF EXISTS settlements_dropped")
        conn.executemany("INSERT INTO settlements VALUES (?,?,?,?,?,?,?)", rows)
    conn.close()
    store = Store(db, IDENTITY, DOMAIN)  # (the first open of this version: index made)
    try:
        latest = [r[0] for r in sorted(rows, key=lambda r: -r[6]) if r[4] == "dropped"]
        assert store.given_up_settlements() == latest[:GIVEN_UP_KEPT]
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "settlements_dropped" in names  # (before: none)
        read: list[str] = []
        conn.set_trace_callback(read.append)
        assert dropped_rows(conn) == latest[:GIVEN_UP_KEPT]
        conn.set_trace_callback(None)
        (sql,) = (s for s in read if "settlements" in s)
        plan = " ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
    conn.close()
    assert "settlements_dropped" in plan and "TEMP B-TREE" not in plan, plan
