"""left33: ``GET /v1/orders?takerAddress=`` (SRA v3's filter; ``taker=`` too) lists the
orders whose ``taker`` is that address. The orders table gets a ``taker`` column (since
store37 written by the insert; a database made before has it filled from every row's JSON
at open: ``tests/test_store37_taker_column.py``) and a partial index of the orders with a
named taker (an open order, taker 0x0, the most of them, costs the index nothing)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sdex.model import OrderStatus as S
from sdex.order import ZERO_ADDRESS
from sdex.store import Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_book import DOMAIN, A
from tests.test_book import ask as book_ask
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask
from tests.test_store_indexes import IDENTITY, _indexes

T1, T2 = "0x" + "7a" * 20, "0x" + "7b" * 20


def test_a_database_from_before_gets_the_taker_column_and_its_index(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    store = Store(path, IDENTITY, DOMAIN)
    takers = [T1, T2, ZERO_ADDRESS, T1]
    for i, t in enumerate(takers):
        store.add_order(book_ask(A, 10, 100 + i, taker=t), i + 1, S.OPEN, "api")
    store.close()
    with sqlite3.connect(path) as db:  # as a database made before this change was
        db.execute("DROP INDEX IF EXISTS orders_taker_seq")
        names = [r[1] for r in db.execute("PRAGMA table_xinfo(orders)")]
        if "taker" in names:
            db.execute("ALTER TABLE orders DROP COLUMN taker")
    store = Store(path, IDENTITY, DOMAIN)
    try:
        assert "orders_taker_seq" in _indexes(path)
        total, rows = asyncio.run(store.query_orders({"taker": T1}, 1, 10))
        assert total == 2 and [r.seq for r in rows] == [1, 4]
        total, rows = asyncio.run(store.query_orders({"taker": T2.upper()}, 1, 10))
        assert total == 1 and [r.seq for r in rows] == [2]
        total, rows = asyncio.run(store.query_orders({"taker": ZERO_ADDRESS}, 1, 10))
        assert total == 1 and [r.seq for r in rows] == [3]
        with sqlite3.connect(path) as db:
            plan = " ".join(
                str(r[-1])
                for r in db.execute(
                    "EXPLAIN QUERY PLAN SELECT hash FROM orders WHERE taker = ?"
                    f" AND taker != '{ZERO_ADDRESS}' ORDER BY seq",
                    [T1],
                )
            )
        assert "orders_taker_seq" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        store.close()


async def test_get_orders_by_taker_address(chain: Chain, tmp_path: Path) -> None:
    c = chain
    carol = c.address(CAROL)
    async with running_node(node_config(c, tmp_path / "n.db")) as (_node, api):
        private = c.sign(ask(c, ALICE, E18, 3000 * E6, taker=carol))
        public = c.sign(ask(c, BOB, E18, 3100 * E6))
        for s in (private, public):
            code, body = await api.post_order(s)
            assert code == 201, body
        for q in ("takerAddress", "taker"):
            code, page = await api.get("/v1/orders", **{q: carol})
            assert code == 200 and page["total"] == 1, page
            assert page["records"][0]["order"]["taker"].lower() == carol.lower()
        code, page = await api.get("/v1/orders", takerAddress=ZERO_ADDRESS)
        hashes = {r["metaData"]["orderHash"] for r in page["records"]}
        assert public.hash_hex in hashes and private.hash_hex not in hashes
        code, body = await api.get("/v1/orders", takerAddress="0x12")
        assert code == 400, body
