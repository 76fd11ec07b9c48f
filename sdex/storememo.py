"""Tables of what a node remembers beside its orders, fills and mirror, so that a restart
finds it: the fills a reorg undid (``undone_fills``: ``sdex.storeundone``), peers' soft
cancels of orders not held yet (``orphan_cancels``: ``sdex.storeorphans``), and the orders
due a look at the chain's word once nothing of theirs is in flight (``rechecks``:
``sdex.storerecheck``). Each made at open if missing (a database from before it: added,
empty)."""

from __future__ import annotations

import sqlite3

from sdex.sqltx import rolled_back_on_error


def open_memo_tables(db: sqlite3.Connection) -> None:
    """``undone_fills``, ``orphan_cancels`` and ``rechecks`` made, or brought to this
    version's shape. On the connection, outside any transaction."""
    open_undone_table(db)
    open_orphan_table(db)
    have = tuple(r[1] for r in db.execute("PRAGMA table_info(rechecks)").fetchall())
    if have and have != ("order_hash",):  # (another shape: nothing else reads it)
        db.execute("DROP TABLE rechecks")
    db.execute(RECHECK_TABLE)


RECHECK_TABLE = """CREATE TABLE IF NOT EXISTS rechecks (order_hash TEXT PRIMARY KEY)"""
"""One order (0x-hex, lower case) a block, a reorg or a failed match's diagnosis left to be
judged again by the chain's word once none of its matches is in flight and the mirror has
its own settlements' blocks (``NodeVerdicts._recheck_settled``). recheck75: held in memory
only, a kill lost it, and a closed order kept a filled amount the chain did not have."""


UNDONE_COLUMNS = ("seq", "order_hash", "tx_hash", "maker_filled")
UNDONE_TABLE = """CREATE TABLE IF NOT EXISTS undone_fills (
    seq INTEGER PRIMARY KEY,
    order_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    maker_filled TEXT NOT NULL,
    UNIQUE (order_hash, tx_hash)
)"""
"""One fill a reorg undid: its order and transaction (0x-hex, lower case), its maker amount
(decimal text); ``seq``: the order they were written in (the oldest forgotten first)."""


def open_undone_table(db: sqlite3.Connection) -> None:
    """Create the table (a database from before it: added, empty); one of another shape
    (not this version's) is dropped first: it only remembered, nothing else reads it."""
    have = tuple(r[1] for r in db.execute("PRAGMA table_info(undone_fills)").fetchall())
    if have and have != UNDONE_COLUMNS:
        db.execute("DROP TABLE undone_fills")
    db.execute(UNDONE_TABLE)


ORPHAN_COLUMNS = ("order_hash", "signature", "sender", "bucket", "at")
ORPHAN_TABLE = """CREATE TABLE IF NOT EXISTS orphan_cancels (
    order_hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    sender TEXT NOT NULL,
    bucket TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (order_hash, signature, bucket)
)"""
"""One kept cancel in one count: its order hash and signature (0x-hex, lower case), the peer
that sent it and the count it is kept in, and when it came (``time.time()``). A row a count
(review70: one row, the first count's, and a restart read a cancel two counts held back into
that one alone, which its hostile sender then evicted)."""


def open_orphan_table(db: sqlite3.Connection) -> None:
    """Create the table (a database from before it: added, empty); one of another shape is
    dropped first: it only remembered cancels a peer can pass on again. One keyed without
    the count (before review70) is made again with its rows, in one transaction."""
    info = db.execute("PRAGMA table_info(orphan_cancels)").fetchall()
    if info and tuple(r[1] for r in info) != ORPHAN_COLUMNS:
        db.execute("DROP TABLE orphan_cancels")
    elif info and not info[3][5]:  # (``bucket`` not in the primary key)
        with rolled_back_on_error(db):
            db.executescript(
                "BEGIN IMMEDIATE; ALTER TABLE orphan_cancels RENAME TO orphan_cancels_old;"
                f" {ORPHAN_TABLE}; INSERT INTO orphan_cancels SELECT * FROM orphan_cancels_old;"
                " DROP TABLE orphan_cancels_old; COMMIT;"
            )
    db.execute(ORPHAN_TABLE)
