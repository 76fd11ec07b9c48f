"""The SQLite schema of a node's store (``sdex.store``) and the statements its writer shares."""

from __future__ import annotations

import sqlite3

from sdex.sqltx import immediate, rolled_back_on_error
from sdex.storememo import open_memo_tables

ORDERS_TABLE = """CREATE TABLE IF NOT EXISTS {name} (
    hash        TEXT NOT NULL UNIQUE,
    seq         INTEGER PRIMARY KEY,
    maker       TEXT NOT NULL,
    maker_token TEXT NOT NULL,
    taker_token TEXT NOT NULL,
    order_json  TEXT NOT NULL,
    status      TEXT NOT NULL,
    filled      TEXT NOT NULL DEFAULT '0',
    reason      TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL,
    tif         TEXT NOT NULL DEFAULT 'gtc',
    cancel_sig  TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    taker       TEXT,
    cancel_block INTEGER,
    cancel_nonce INTEGER
)"""
"""The orders table (``name``: ``orders``, or the copy a migration fills). ``seq``, the
arrival order, is the rowid: the table's own B-tree is in arrival order (every walk and page
reads it in ``seq`` order, ``MAX(seq)`` is its last row), and each stored order updates four
B-trees: the table, ``hash``'s unique index, ``orders_maker_seq`` and ``orders_pair``."""

TAKER = "CASE WHEN json_valid(order_json) THEN lower(json_extract(order_json, '$.taker')) END"
"""The ``taker`` column's value from a row's JSON (NULL for a row that is not JSON): written
once into a database from before the column was plain (``open_taker_column``). A stored
order's own is written by its insert (``INSERT_ORDER``: the order's ``taker``, lower case),
and kept by ``orders_taker_seq`` for the orders that name one (store37: left33's column was
generated from the JSON, a ``json_extract`` on every insert for the index's condition)."""
ZERO_TAKER = "0x" + "00" * 20
"""The taker of an order anyone may fill (most orders): not in ``orders_taker_seq``."""

ORDER_COLUMNS = (
    "hash", "seq", "maker", "maker_token", "taker_token", "order_json", "status", "filled",
    "reason", "source", "tif", "cancel_sig", "created_at", "updated_at", "taker",
    "cancel_block", "cancel_nonce",
)  # fmt: skip

ORDER_EXPIRY = (
    "CAST(CASE WHEN json_valid(order_json) THEN json_extract(order_json, '$.expiry') END"
    " AS INTEGER)"
)
"""A row's order's expiry (NULL for a row whose text is not JSON): ``orders_soft_expiry``'s
key, and the same text in the query that reads by it (``SOFT_CANCELS_AFTER``)."""

ORDER_INDEXES = (
    """
-- (maker) alone is a prefix of orders_maker_seq: that index serves it, one fewer per insert
DROP INDEX IF EXISTS orders_maker;
CREATE INDEX IF NOT EXISTS orders_maker_seq ON orders (maker, seq);
-- a market's page (GET /v1/orders?makerToken=&takerToken=) in seq order: the rowid ends the key
CREATE INDEX IF NOT EXISTS orders_pair ON orders (maker_token, taker_token);
-- GET /v1/orders?takerAddress= of an order's named taker: only the orders that name one
CREATE INDEX IF NOT EXISTS orders_taker_seq ON orders (taker, seq)
    WHERE taker != '0x0000000000000000000000000000000000000000';
-- the soft cancels in seq order, each with its order's expiry (GET /p2p/cancelled: the
-- unexpired ones told from the index, no row read for an expired one, no sort)
CREATE INDEX IF NOT EXISTS orders_soft_expiry ON orders (seq, """
    + f"""{ORDER_EXPIRY})
    WHERE status = 'cancelled' AND cancel_sig != '';
-- the removed orders with a filled amount (a reset judges them again: REMOVED_FILLED_AFTER)
CREATE INDEX IF NOT EXISTS orders_removed_filled ON orders (seq)
    WHERE status = 'removed' AND filled != '0';
-- the soft-cancelled orders with a filled amount (a reset judges them again too: chaos66)
CREATE INDEX IF NOT EXISTS orders_cancelled_filled ON orders (seq)
    WHERE status = 'cancelled' AND cancel_sig != '' AND filled != '0';
"""
)
"""The orders table's indexes besides ``hash``'s: ``orders_maker_seq`` serves a maker's
walks (the cancel-up-to re-judging, ``orders_after``) and ``GET /v1/orders?maker=``;
``orders_pair`` a market's listing, in ``seq`` order with no sort (a node that lists many
pairs would scan every row for one market without it); ``orders_taker_seq`` a taker's
(``GET /v1/orders?takerAddress=``), partial: an order open to anyone adds no entry;
``orders_soft_expiry`` the soft cancels a peer's ``/p2p/cancelled`` pages through, with
their expiry (review44: by ``seq`` and status, each page scanned every order row after its
cursor, on the writer thread), partial: only soft-cancelled rows add an entry;
``orders_removed_filled`` the ``removed`` orders with a filled amount a reset judges again
(chaos61), partial: a removed order with nothing filled (most) adds no entry;
``orders_cancelled_filled`` the same of the soft-cancelled ones (chaos66)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- order rows found damaged while the node ran (a closed one is read only when asked for),
-- named by every later start till the row parses again or is gone (users86)
CREATE TABLE IF NOT EXISTS damaged_orders (hash TEXT PRIMARY KEY, found_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    tx_hash       TEXT NOT NULL,
    log_index     INTEGER NOT NULL,
    block_number  INTEGER NOT NULL,
    order_hash    TEXT NOT NULL,
    maker         TEXT NOT NULL,
    taker         TEXT NOT NULL,
    maker_filled  TEXT NOT NULL,
    taker_filled  TEXT NOT NULL,
    fee_recipient TEXT NOT NULL,
    fee           TEXT NOT NULL,
    ours          INTEGER NOT NULL DEFAULT 0,
    seq           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tx_hash, log_index)
);
-- a reorg's undoing (block_number > ?) and a reset's, in chain order
CREATE INDEX IF NOT EXISTS fills_chain ON fills (block_number, log_index);
CREATE TABLE IF NOT EXISTS mirror_orders (
    hash      TEXT PRIMARY KEY,
    filled    TEXT NOT NULL,
    cancelled INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mirror_makers (maker TEXT PRIMARY KEY, min_salt TEXT NOT NULL);
-- the mirror's kept blocks up to its saved head, each with its undo list (watch81)
CREATE TABLE IF NOT EXISTS mirror_blocks (number INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mirror_funds (
    maker     TEXT NOT NULL,
    token     TEXT NOT NULL,
    balance   TEXT NOT NULL,
    allowance TEXT NOT NULL,
    PRIMARY KEY (maker, token)
);
CREATE TABLE IF NOT EXISTS settlements (
    tx_hash    TEXT PRIMARY KEY,
    nonce      INTEGER NOT NULL,
    raw_tx     TEXT NOT NULL,
    pairs      TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
-- a start's latest given-up settlements (``sdex.storesettle.dropped_rows``), partial: the
-- rows of other statuses (most: mined) add no entry; made at the first open of an older store
CREATE INDEX IF NOT EXISTS settlements_dropped ON settlements (updated_at)
    WHERE status = 'dropped';
"""

FILL_COLUMNS = (
    "tx_hash", "log_index", "block_number", "order_hash", "maker", "taker", "maker_filled",
    "taker_filled", "fee_recipient", "fee", "ours", "seq",
)  # fmt: skip
"""The fills table's columns, in order (``SELECT *``: ``sdex.storefills.fill_of``)."""

FILL_SEQ_KEY = "fills_seq"
"""The ``meta`` row of the last fill ``seq`` given (kept through a reorg's deletes and a
chain reset: a ``seq`` is never given twice, so a walk past it sees every later fill)."""

FILL_INDEXES = """
-- (order_hash) alone is a prefix of fills_order_seq: that index serves it
DROP INDEX IF EXISTS fills_order;
CREATE INDEX IF NOT EXISTS fills_order_seq ON fills (order_hash, seq);
-- GET /v1/fills in the order stored: pages by cursor read from their key, none sorts
CREATE UNIQUE INDEX IF NOT EXISTS fills_seq ON fills (seq);
"""
"""The fills table's indexes on ``seq``: ``GET /v1/fills`` (and ``?orderHash=``) in the
order the node stored its fills (review18: in chain order, a fill a reorg re-added below a
walk's cursor was never listed to that walk)."""

INSERT_FILL = (
    f"INSERT OR IGNORE INTO fills ({', '.join(FILL_COLUMNS)}) VALUES"
    f" ({','.join('?' * len(FILL_COLUMNS))})"
)


def open_schema(db: sqlite3.Connection) -> None:
    """The writer's connection set up (``PRAGMAS``), ``SCHEMA`` created, the fills table
    brought up to date (``open_fills_table``), the tables of what the node remembers beside
    its orders made (``sdex.storememo.open_memo_tables``). On the connection, outside any
    transaction."""
    for pragma in PRAGMAS:
        db.execute(pragma)
    db.executescript(SCHEMA)
    open_fills_table(db)
    open_memo_tables(db)


PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA wal_autocheckpoint=0",
    "PRAGMA secure_delete=FAST",
)
"""The writer connection's settings. ``temp_store=MEMORY``: the writer runs each job in a
savepoint, and an insert into ``orders`` (whose triggers write ``order_counts``) needs a
statement journal; with the default, SQLite keeps these journals in temporary files, created
and deleted per transaction (http20: 65-85 us a stored order on the writer thread, against
25-38 in memory; they hold the pages a transaction changes, at most ``max_group`` jobs'
worth, and are not needed after a crash: the WAL is what survives it).
``wal_autocheckpoint=0``: no checkpoint inside the writer's commits (30-100 ms of some, http23);
the writer's ``sdex.storecheckpoint.Checkpointer`` runs them on a thread of its own.
``secure_delete=FAST``: deleted content is zeroed only in pages written anyway, a freed page
is not written over with zeros (Debian's and Ubuntu's SQLite build with secure delete on:
every overflow page a rewritten or deleted row freed went to the WAL, and from there into
the file, as zeros; anvil60: half of a settlement's status change). Nothing here is secret
(orders and fills are public; the node's key is in a file of its own)."""


def open_fills_table(db: sqlite3.Connection) -> None:
    """Bring a fills table from before ``seq`` (the eighteenth session's and older) up to
    this schema: the column added, its rows numbered in chain order (1, 2, ...; the order
    they were listed in), the counter set to their number; then the indexes
    (``FILL_INDEXES``). On the connection, outside any transaction."""
    if "seq" not in {row[1] for row in db.execute("PRAGMA table_info(fills)")}:
        with immediate(db):
            db.execute("ALTER TABLE fills ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
            db.execute(
                "UPDATE fills SET seq = r.n FROM (SELECT rowid AS id, ROW_NUMBER() OVER"
                " (ORDER BY block_number, log_index) AS n FROM fills) AS r"
                " WHERE fills.rowid = r.id"
            )
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, (SELECT COUNT(*) FROM fills))",
                (FILL_SEQ_KEY,),
            )
    db.executescript(FILL_INDEXES)


def last_fill_seq(db: sqlite3.Connection) -> int:
    """The last fill ``seq`` given (the counter, or the largest stored if more), of those
    below ``FILL_SEQ_LIMIT`` (attack31: a counter or a row edited to 2**63 - 1 made the next
    fill's seq past SQLite's integers: every later fill was dropped, unwritable)."""
    row = db.execute(
        "SELECT MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key=?"
        " AND CAST(value AS INTEGER) < ?), 0),"
        " COALESCE((SELECT MAX(seq) FROM fills WHERE seq < ?), 0))",
        (FILL_SEQ_KEY, FILL_SEQ_LIMIT, FILL_SEQ_LIMIT),
    ).fetchone()
    return int(row[0])


FILL_SEQ_LIMIT = 2**61
"""Above every fill ``seq`` this node gives (one a fill: far from SQLite's 2**63 - 1)."""


MIRROR_TABLES = ("mirror_orders", "mirror_makers", "mirror_funds", "mirror_blocks")

ADDED_ORDER_COLUMNS = {
    "tif": "TEXT NOT NULL DEFAULT 'gtc'",
    "cancel_sig": "TEXT NOT NULL DEFAULT ''",
    "cancel_block": "INTEGER",
    "cancel_nonce": "INTEGER",
}
"""Columns added since the first schema, with their DDL (added to an older database:
``open_orders_table``; ``taker``: ``open_taker_column``)."""

ORDER_SELECT = (
    "SELECT hash, seq, order_json, status, filled, reason, source, created_at, tif, cancel_sig,"
    " taker, cancel_block, cancel_nonce FROM orders"
)
"""An order's row as read; its ``taker`` is checked against its JSON at load (store37).
``cancel_block``/``cancel_nonce``: where the chain and the operator's nonce lane stood when
this node took the order's soft cancel (NULL: no cancel, or one taken before audit62)."""


def cancel_at(values: tuple[object, ...]) -> tuple[int, int | None] | None:
    """A row's ``cancel_block`` and ``cancel_nonce`` (the last two of ``ORDER_SELECT``'s
    columns): None when it has no block, or one that is not a block number (the row is
    still read: an order is never lost over what its cancel noted)."""
    block, nonce = (*values, None, None)[:2]
    if type(block) is not int or not 0 <= block < 2**63:
        return None
    return block, nonce if type(nonce) is int and 0 <= nonce < 2**63 else None


SOFT_CANCELS_AFTER = (
    f"{ORDER_SELECT} INDEXED BY orders_soft_expiry WHERE status = 'cancelled'"
    f" AND cancel_sig != '' AND {ORDER_EXPIRY} > ? AND seq > ? ORDER BY seq LIMIT ?"
)
"""Soft-cancelled orders unexpired at a time, of ``seq`` above a cursor, in ``seq`` order:
read by ``orders_soft_expiry`` (its soft cancels in ``seq`` order, an expired one told by
the index alone), never by the table (the planner, left to itself, walks the rowid and
reads each row's JSON: 0.4-0.55 s a page at 400,000 rows; by the index 30 ms with 100,000
soft cancels expired, a walk of 100,000 live ones 1.3 s in all)."""

REMOVED_FILLED_AFTER = (
    f"{ORDER_SELECT} INDEXED BY orders_removed_filled WHERE status = 'removed'"
    " AND filled != '0' AND seq > ? ORDER BY seq LIMIT ?"
)
"""``removed`` orders with a filled amount, of ``seq`` above a cursor, in ``seq`` order: read
by ``orders_removed_filled``, a page costs its rows, not every removed order's (chaos61)."""

CANCELLED_FILLED_AFTER = (
    f"{ORDER_SELECT} INDEXED BY orders_cancelled_filled WHERE status = 'cancelled'"
    " AND cancel_sig != '' AND filled != '0' AND seq > ? ORDER BY seq LIMIT ?"
)
"""Soft-cancelled orders with a filled amount, as ``REMOVED_FILLED_AFTER`` (chaos66)."""

UNUSABLE = "status='removed' AND reason='unparseable'"
"""A row whose order could not be parsed, closed at a start: not an order this node holds;
the same order (its hash), signed and sent again, takes its place (``INSERT_ORDER``)."""

ORDER_VALUES = "(?,?,?,?,?,?,?,?,?,?,?,?)"
"""One row's parameters in ``INSERT_ORDER`` (``sdex.sqlwriter`` repeats it for many rows)."""

INSERT_ORDER = (
    "INSERT OR IGNORE INTO orders (hash, seq, maker, maker_token, taker_token, order_json,"
    f" status, source, tif, created_at, updated_at, taker) VALUES {ORDER_VALUES}"
    " ON CONFLICT(hash) DO UPDATE SET seq=excluded.seq, maker=excluded.maker,"
    " maker_token=excluded.maker_token, taker_token=excluded.taker_token,"
    " order_json=excluded.order_json, status=excluded.status, filled='0', reason='',"
    " source=excluded.source, tif=excluded.tif, cancel_sig='',"
    " cancel_block=NULL, cancel_nonce=NULL,"
    " created_at=excluded.created_at, updated_at=excluded.updated_at, taker=excluded.taker"
    " WHERE orders.status='removed' AND orders.reason='unparseable'"
)
"""An order's row; one already there is kept as it is (stored once), unless unusable."""


def open_orders_table(db: sqlite3.Connection) -> bool:
    """Create the orders table, or bring one from an older version up to this schema: the
    columns added since (``ADDED_ORDER_COLUMNS``), then, if ``seq`` is not its rowid yet
    (before the sixth session's schema: a table keyed by ``hash``, with a unique index on
    ``seq`` and one on the pair), every row copied into this schema's table in one
    transaction (``True``: it was; its rows, columns and order unchanged). Then the
    indexes (``ORDER_INDEXES``). On the connection, outside any transaction.

    The rebuild needs free disk for a second copy of the table and, until its checkpoint,
    as much again in the WAL (measured: 300,000 orders, a 348 MB file, took 6.5 s, grew
    the file to 682 MB and the WAL to 686 MB); the WAL is truncated after it, and the old
    table's pages stay in the file as free pages that later rows reuse (``VACUUM`` on a
    stopped node gives them back). A disk that fills midway rolls the copy back: the old
    table is kept whole, and the node does not start until there is room."""
    db.execute(ORDERS_TABLE.format(name="orders"))
    info = db.execute("PRAGMA table_xinfo(orders)").fetchall()  # (generated columns too)
    for name, ddl in ADDED_ORDER_COLUMNS.items():
        if name not in {row[1] for row in info}:
            db.execute(f"ALTER TABLE orders ADD COLUMN {name} {ddl}")
    filled = open_taker_column(db)
    rebuilt = False
    if not _seq_is_rowid(db):
        columns = ", ".join(ORDER_COLUMNS)
        with immediate(db):
            if not _seq_is_rowid(db):  # (asked again under the lock: another process's rebuild)
                db.execute(ORDERS_TABLE.format(name="orders_new"))
                db.execute(f"INSERT INTO orders_new ({columns}) SELECT {columns} FROM orders")
                db.execute("DROP TABLE orders")  # (and its indexes)
                db.execute("ALTER TABLE orders_new RENAME TO orders")
                rebuilt = True
    db.executescript(ORDER_INDEXES)
    if rebuilt or filled:  # the copy (or fill) went through the WAL: give the space back
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return rebuilt


ORDER_COUNTS = """
CREATE TABLE IF NOT EXISTS order_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS orders_counted_insert AFTER INSERT ON orders BEGIN
    INSERT INTO order_counts VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS orders_counted_update AFTER UPDATE OF status ON orders
    WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE order_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO order_counts VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS orders_counted_delete AFTER DELETE ON orders BEGIN
    UPDATE order_counts SET n = n - 1 WHERE status = OLD.status;
END;
"""
"""How many orders have each status, kept by triggers in the transaction of every insert,
status change and delete of an order (whoever writes it: the writer's inserts, an upsert
of an unusable row, ``update_orders``, a start's closes): ``GET /v1/orders?status=``'s first
page by number counts here, not by reading every row (``status`` has no index; 130-360 ms
on 100,000 orders, leftovers17). A small table (one row a status): an order's write also
writes its page, no index of its own."""

COUNT_TRIGGERS = ("orders_counted_insert", "orders_counted_update", "orders_counted_delete")


def open_order_counts(db: sqlite3.Connection) -> bool:
    """Create ``ORDER_COUNTS`` if any of it is missing (a store from before it, or an orders
    table rebuilt, which drops its triggers) and count every order's status into it, in one
    transaction (``True``: it was; one scan of the table). On the connection, outside any
    transaction, after ``open_orders_table``."""
    marks = ",".join("?" * len(COUNT_TRIGGERS))
    sql = f"SELECT COUNT(*) FROM sqlite_master WHERE type='trigger' AND name IN ({marks})"
    if db.execute(sql, COUNT_TRIGGERS).fetchone()[0] == len(COUNT_TRIGGERS):
        return False
    with rolled_back_on_error(db):  # (one script, one transaction: all of it or nothing)
        db.executescript(
            "BEGIN IMMEDIATE;" + ORDER_COUNTS + "DELETE FROM order_counts;"
            " INSERT INTO order_counts SELECT status, COUNT(*) FROM orders GROUP BY status;"
            " COMMIT;"
        )
    return True


def open_taker_column(db: sqlite3.Connection) -> bool:
    """Make ``taker`` a plain column, filled from every row's JSON (``TAKER``) in one
    transaction, if the table has none (before left33) or left33's generated one (dropped
    first with its index: a virtual column's drop rewrites no row). One ``UPDATE`` of every
    row, once (``True``: it ran; measured, store37: 100,000 orders, a 103 MB file, 2.8 s,
    0.7 s of it CPU, the WAL 101 MB until ``open_orders_table`` truncates it);
    ``ORDER_INDEXES`` then indexes it. On the connection, outside any transaction."""
    if _taker_is_plain(db):
        return False
    with immediate(db):
        if not _taker_is_plain(db):  # (asked again under the lock: another process's)
            info = {row[1]: row for row in db.execute("PRAGMA table_xinfo(orders)")}
            if "taker" in info:  # (left33's: GENERATED ALWAYS AS (TAKER) VIRTUAL)
                db.execute("DROP INDEX IF EXISTS orders_taker_seq")
                db.execute("ALTER TABLE orders DROP COLUMN taker")
            db.execute("ALTER TABLE orders ADD COLUMN taker TEXT")
            db.execute(f"UPDATE orders SET taker = {TAKER}")
    return True


def _taker_is_plain(db: sqlite3.Connection) -> bool:
    """``taker`` is a column of the table, stored, not generated (``table_xinfo``'s hidden
    flag 0; 2 and 3 are generated ones)."""
    return any(r[1] == "taker" and r[6] == 0 for r in db.execute("PRAGMA table_xinfo(orders)"))


def _seq_is_rowid(db: sqlite3.Connection) -> bool:
    return any(row[1] == "seq" and row[5] for row in db.execute("PRAGMA table_info(orders)"))
