"""store37: the orders table's ``taker`` is a plain column written by the order's insert
(left33's was generated from the row's JSON: a ``json_extract`` on every insert for
``orders_taker_seq``'s condition). A database with left33's generated column, or with none,
gets it filled from every row's JSON once at open (one ``UPDATE``); a row whose ``taker``
is not its order's is not trusted (refused at load as attack31's checks refuse a row)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from sdex.model import OrderStatus as S
from sdex.node.pages import stored_text
from sdex.order import ZERO_ADDRESS
from sdex.store import Store
from sdex.storeschema import ORDER_SELECT, TAKER
from tests.test_book import DOMAIN, A
from tests.test_book import ask as book_ask
from tests.test_store_indexes import IDENTITY, _indexes

T1, T2 = "0x" + "7a" * 20, "0x" + "7b" * 20

LEFT33_TABLE = """CREATE TABLE orders (
    hash TEXT NOT NULL UNIQUE, seq INTEGER PRIMARY KEY, maker TEXT NOT NULL,
    maker_token TEXT NOT NULL, taker_token TEXT NOT NULL, order_json TEXT NOT NULL,
    status TEXT NOT NULL, filled TEXT NOT NULL DEFAULT '0', reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL, tif TEXT NOT NULL DEFAULT 'gtc',
    cancel_sig TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL,
    taker TEXT GENERATED ALWAYS AS ({taker}) VIRTUAL
)"""
"""The orders table as left33 made it (its ``taker`` computed from the JSON as read)."""

LEFT33_INDEX = (
    f"CREATE INDEX orders_taker_seq ON orders (taker, seq) WHERE taker != '{ZERO_ADDRESS}'"
)


def taker_column(path: Path) -> tuple[int, list[tuple[int, str | None]]]:
    """``taker``'s ``table_xinfo`` hidden flag (0: stored, plain) and every row's value."""
    with sqlite3.connect(path) as db:
        [hidden] = [r[6] for r in db.execute("PRAGMA table_xinfo(orders)") if r[1] == "taker"]
        values = db.execute("SELECT seq, taker FROM orders ORDER BY seq").fetchall()
    return hidden, values


def plan(path: Path, taker: str) -> str:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "EXPLAIN QUERY PLAN SELECT hash FROM orders WHERE taker = ?"
            f" AND taker != '{ZERO_ADDRESS}' ORDER BY seq",
            [taker],
        ).fetchall()
    return " ".join(str(r[-1]) for r in rows)


def test_the_insert_writes_the_orders_taker(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        store.add_order(book_ask(A, 10, 100, taker=T1), 1, S.OPEN, "api")

        async def queued() -> None:  # (the writer's multi-row insert)
            futs = [
                store.add_order_async(book_ask(A, 10, 101 + i, taker=t), 2 + i, S.OPEN, "peer")
                for i, t in enumerate([T2, ZERO_ADDRESS, T1])
            ]
            await asyncio.gather(*[f for f in futs if f is not None])

        asyncio.run(queued())
        hidden, values = taker_column(path)
        assert hidden == 0
        assert values == [(1, T1), (2, T2), (3, ZERO_ADDRESS), (4, T1)]
        assert [s.seq for s in store.orders()] == [1, 2, 3, 4]
        total, rows = asyncio.run(store.query_orders({"taker": T1.upper()}, 1, 10))
        assert total == 2 and [r.seq for r in rows] == [1, 4]
    finally:
        store.close()
    assert "orders_taker_seq" in _indexes(path)
    assert "orders_taker_seq" in plan(path, T1) and "TEMP B-TREE" not in plan(path, T1)


@pytest.mark.parametrize("shape", ["generated", "none"])
def test_a_database_from_before_gets_a_plain_taker_filled_once(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "node.db"
    store = Store(path, IDENTITY, DOMAIN)
    store.close()  # (the other tables, the meta rows: a node's database)
    orders = [book_ask(A, 10, 100 + i, taker=t) for i, t in enumerate([T1, ZERO_ADDRESS, T2])]
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE orders")  # (and its triggers: the open counts again)
        db.execute(LEFT33_TABLE.format(taker=TAKER if shape == "generated" else "NULL"))
        if shape == "none":
            db.execute("ALTER TABLE orders DROP COLUMN taker")
        else:
            db.execute(LEFT33_INDEX)
        for i, s in enumerate(orders):
            o = s.order
            db.execute(
                "INSERT INTO orders (hash, seq, maker, maker_token, taker_token, order_json,"
                " status, source, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (s.hash_hex, i + 1, o.maker, o.maker_token, o.taker_token,
                 json.dumps(s.to_json()), "open", "api", 1.0, 1.0),
            )  # fmt: skip
        db.execute(  # a row that is not JSON: no taker, still opened (closed by the node)
            "INSERT INTO orders (hash, seq, maker, maker_token, taker_token, order_json,"
            " status, source, created_at, updated_at)"
            " VALUES ('0x' || hex(randomblob(32)), 4, 'm', 'a', 'b', '{nope', 'open', 'api', 1, 1)"
        )
    store = Store(path, IDENTITY, DOMAIN)
    try:
        hidden, values = taker_column(path)
        assert hidden == 0
        assert values == [(1, T1), (2, ZERO_ADDRESS), (3, T2), (4, None)]
        assert "orders_taker_seq" in _indexes(path)
        assert "orders_taker_seq" in plan(path, T2) and "TEMP B-TREE" not in plan(path, T2)
        total, rows = asyncio.run(store.query_orders({"taker": T2}, 1, 10))
        assert total == 1 and rows[0].signed.hash_hex == orders[2].hash_hex
        store.add_order(book_ask(A, 10, 200, taker=T2), 5, S.OPEN, "api")  # (written now)
        total, rows = asyncio.run(store.query_orders({"taker": T2}, 1, 10))
        assert total == 2 and [r.seq for r in rows] == [3, 5]
    finally:
        store.close()
    store = Store(path, IDENTITY, DOMAIN)  # opened again: nothing left to fill
    try:
        assert taker_column(path)[1][-1] == (5, T2)
    finally:
        store.close()


@pytest.mark.parametrize(
    "taker",
    [T2, T1.upper(), ZERO_ADDRESS, None, "", 7, T1 + " "],
    ids=["another", "upper-case", "zero", "null", "empty", "integer", "padded"],
)
def test_a_row_whose_taker_is_not_its_orders_is_not_trusted(tmp_path: Path, taker: object) -> None:
    path = tmp_path / "node.db"
    store = Store(path, IDENTITY, DOMAIN)
    signed = [book_ask(A, 10, 100, taker=T1), book_ask(A, 10, 101, taker=T1)]
    for i, s in enumerate(signed):
        store.add_order(s, i + 1, S.OPEN, "api")
    store.close()
    with sqlite3.connect(path) as db:  # edited on disk: listed under another taker
        db.execute("UPDATE orders SET taker=? WHERE seq=1", (taker,))
        rows = db.execute(ORDER_SELECT + " ORDER BY seq").fetchall()
    assert stored_text(rows[0], DOMAIN) is None  # (an evicted order's listing: left out)
    assert stored_text(rows[1], DOMAIN) is not None
    store = Store(path, IDENTITY, DOMAIN)
    try:
        skipped: list[str] = []
        assert [s.seq for s in store.orders(skipped=skipped)] == [2]
        assert skipped == [signed[0].hash_hex] and store.unparseable_count == 1
    finally:
        store.close()
