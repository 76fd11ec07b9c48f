"""The orders table's indexes: ``orders_maker`` (maker alone) is gone, dropped from a
database made before as it is opened; a maker's orders are read by ``orders_maker_seq``,
whose first column it was (one index fewer to update per stored order)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sdex.model import OrderStatus as S
from sdex.store import ChainIdentity, Store
from tests.test_book import DOMAIN, A
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
        total, rows = store.query_orders({"maker": A.lower()}, 1, 10)
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
