"""The orders table's B-trees: ``orders_maker`` (maker alone) is gone, dropped from a
database made before as it is opened; a maker's orders are read by ``orders_maker_seq``,
whose first column it was (one index fewer to update per stored order). ``seq`` is the
table's rowid: an older table is rebuilt so at open, its rows kept (four B-trees a stored
order, not five)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from sdex.model import OrderStatus as S
from sdex.store import ChainIdentity, Store
from tests.test_book import DOMAIN, A, B
from tests.test_book import ask as book_ask

IDENTITY = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "11" * 32)


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {str(r[0]) for r in rows}


def test_a_database_from_before_loses_the_maker_index_and_keeps_its_orders(
    tmp_path: Path,
) -> None:
    path = tmp_path / "node.db"
    store = Store(path, IDENTITY, DOMAIN)
    signed = [book_ask(A, 10, 100) for _ in range(3)]
    for i, so in enumerate(signed):
        store.add_order(so, i + 1, S.OPEN, "api")
    store.close()
    with sqlite3.connect(path) as db:  # as a database made before this change was
        db.execute("CREATE INDEX orders_maker ON orders (maker)")
    assert "orders_maker" in _indexes(path)

    store = Store(path, IDENTITY, DOMAIN)
    try:
        assert "orders_maker" not in _indexes(path)
        assert "orders_maker_seq" in _indexes(path)
        total, rows = asyncio.run(store.query_orders({"maker": A.lower()}, 1, 10))
        assert total == 3 and len(rows) == 3
        with sqlite3.connect(path) as db:
            plan = " ".join(
                str(r[-1])
                for r in db.execute(
                    "EXPLAIN QUERY PLAN SELECT hash FROM orders WHERE maker = ? ORDER BY seq",
                    [A.lower()],
                )
            )
        assert "orders_maker_seq" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        store.close()


OLD_ORDERS = """CREATE TABLE orders (
    hash TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, maker TEXT NOT NULL,
    maker_token TEXT NOT NULL, taker_token TEXT NOT NULL, order_json TEXT NOT NULL,
    status TEXT NOT NULL, filled TEXT NOT NULL DEFAULT '0', reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX orders_maker ON orders (maker);
CREATE INDEX orders_pair ON orders (maker_token, taker_token);
"""
"""The orders table as the first schema made it (no ``tif``, no ``cancel_sig``; keyed by
``hash``; five B-trees with the two indexes of that time)."""


ORDER_INDEX_NAMES = {
    "sqlite_autoindex_orders_1",
    "orders_maker_seq",
    "orders_pair",
    "orders_taker_seq",
    "orders_soft_expiry",
    "orders_removed_filled",
    "orders_cancelled_filled",
}
"""(``orders_taker_seq`` partial: an order open to anyone, taker 0x0, adds it no entry;
``orders_soft_expiry`` partial: only soft-cancelled rows add one; ``orders_removed_filled``
and ``orders_cancelled_filled`` partial: only removed, or soft-cancelled, rows with a filled
amount add one)"""


def _order_indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders'"
        return {str(r[0]) for r in db.execute(sql)}


def _plan(path: Path, sql: str, args: list[object]) -> str:
    with sqlite3.connect(path) as db:
        return " ".join(str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + sql, args))


def test_an_old_orders_table_is_rebuilt_with_seq_as_its_rowid_and_keeps_every_row(
    tmp_path: Path,
) -> None:
    """(Before: five B-trees a stored order: the table, ``hash``, ``seq``, a maker's and the
    pair's index; now four: the table in ``seq`` order, ``hash``, ``(maker, seq)``, the pair's.)"""
    path = tmp_path / "node.db"
    Store(path, IDENTITY, DOMAIN).close()  # (the meta table, bound to the chain)
    signed = [book_ask(m, 10 + i, 100) for i, m in enumerate([A, B, A, B, A])]
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE orders")
        db.executescript(OLD_ORDERS)
        for i, so in enumerate(signed):
            o = so.order
            db.execute(
                "INSERT INTO orders (hash, seq, maker, maker_token, taker_token, order_json,"
                " status, filled, reason, source, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (so.hash_hex, 10 * (5 - i), o.maker, o.maker_token, o.taker_token,
                 json.dumps(so.to_json()), "filled" if i == 1 else "open", str(i), "",
                 "api", 1000.0 + i, 2000.0 + i),
            )  # fmt: skip
    store = Store(path, IDENTITY, DOMAIN)
    try:
        with sqlite3.connect(path) as db:
            pk = {r[1]: r[5] for r in db.execute("PRAGMA table_info(orders)")}
            assert pk["seq"] == 1 and pk["hash"] == 0  # (seq is the rowid)
            rows = db.execute("SELECT rowid, * FROM orders ORDER BY rowid").fetchall()
        assert [r[0] for r in rows] == [10, 20, 30, 40, 50]
        by_hash = {r[1]: r for r in rows}
        for i, so in enumerate(signed):
            r = by_hash[so.hash_hex]
            assert r[2] == 10 * (5 - i) and r[7] == ("filled" if i == 1 else "open")
            assert (r[8], r[10], r[11], r[12]) == (str(i), "api", "gtc", "")
            assert (r[13], r[14]) == (1000.0 + i, 2000.0 + i)
        assert _order_indexes(path) == ORDER_INDEX_NAMES
        # the reads: by hash, a maker's walk and every walk in seq order, the last seq
        assert store.order(signed[1].hash_hex) is not None
        assert [s.seq for s in store.orders()] == [10, 20, 30, 40, 50]
        assert store.last_seq() == 50
        total, page = asyncio.run(store.query_orders({"maker": A.lower()}, 1, 10))
        assert total == 3 and [s.seq for s in page] == [10, 30, 50]
        assert "sqlite_autoindex_orders_1" in _plan(
            path, "SELECT 1 FROM orders WHERE hash=?", [signed[0].hash_hex]
        )
        walk = _plan(path, "SELECT hash FROM orders WHERE seq > ? ORDER BY seq LIMIT 9", [0])
        assert "TEMP B-TREE" not in walk and "INTEGER PRIMARY KEY" in walk, walk
        o = signed[0].order
        market = _plan(
            path,
            "SELECT hash FROM orders WHERE maker_token=? AND taker_token=? ORDER BY seq LIMIT 9",
            [o.maker_token, o.taker_token],
        )
        assert "orders_pair" in market and "TEMP B-TREE" not in market, market
        # stored again: kept once; a new one takes the next seq
        store.add_order(signed[0], 51, S.OPEN, "api")
        store.add_order(book_ask(A, 99, 100), store.next_seq(), S.OPEN, "api")
        assert [s.seq for s in store.orders()] == [10, 20, 30, 40, 50, 51]
    finally:
        store.close()
    Store(path, IDENTITY, DOMAIN).close()  # (opened again: nothing left to rebuild)
    assert _order_indexes(path) == ORDER_INDEX_NAMES


def test_a_rebuild_gives_the_wal_its_space_back(tmp_path: Path) -> None:
    """The copy of an older table goes through the WAL; the rebuild checkpoints and
    truncates it (before, the WAL kept the table's size until the store closed)."""
    path = tmp_path / "node.db"
    Store(path, IDENTITY, DOMAIN).close()
    rows = [
        (f"0x{i:064x}", i + 1, A.lower(), "0x" + "11" * 20, "0x" + "22" * 20, "x" * 1000,
         "open", "0", "", "api", 1.0, 1.0)
        for i in range(3000)
    ]  # fmt: skip
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE orders")
        db.executescript(OLD_ORDERS)
        db.executemany(
            "INSERT INTO orders (hash, seq, maker, maker_token, taker_token, order_json,"
            " status, filled, reason, source, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    store = Store(path, IDENTITY, DOMAIN)
    try:
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size < 256 * 1024, wal.stat().st_size  # (the copy: > 3 MB)
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT COUNT(*), MAX(seq) FROM orders").fetchone() == (3000, 3000)
    finally:
        store.close()
