"""The cancel-up-to walk of one maker's evicted orders (``StoreReads.orders_after``): a
page's query before (``maker IN (...) ... ORDER BY seq``: the maker index, then a sort of
all the maker's rows) and after (the ``(maker, seq)`` index, policy closes filtered in
SQL), same database, same run. Prints JSON: ms per page and the ratio.

Run: PYTHONPATH=$PWD .venv/bin/python bench/evict_walk.py [rows]
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

from sdex.storeread import orders_after_sql
from sdex.storeschema import SCHEMA

COLUMNS = (
    "hash, seq, maker, maker_token, taker_token, order_json, status, source, tif,"
    " created_at, updated_at"
)


def per_page(db: sqlite3.Connection, sql: str, args: list[object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        db.execute(sql, args).fetchall()
    return (time.perf_counter() - t0) / n * 1000


def main(rows: int) -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    statuses = ["cancelled", "filled"]
    db.executemany(
        f"INSERT INTO orders ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            (f"0x{i:064x}", i, "0xaa", "t", "q", "{}", statuses[i % 2], "api", "gtc", 0.0, 0.0)
            for i in range(1, rows + 1)
        ),
    )
    db.commit()
    after = rows // 2
    sql, args = orders_after_sql(statuses, "0xaa", after, 500, ("removed",))
    new = per_page(db, sql.replace(sql[: sql.index(" FROM")], "SELECT hash"), args, 50)
    db.execute("DROP INDEX orders_maker_seq")  # the schema before: the maker index alone
    old_sql = (
        "SELECT hash FROM orders WHERE status IN (?,?) AND seq > ? AND maker IN (?)"
        " ORDER BY seq LIMIT ?"
    )
    old = per_page(db, old_sql, [*statuses, after, "0xaa", 500], 5)
    print(
        json.dumps(
            {
                "rows_of_one_maker": rows,
                "before_ms_per_page": round(old, 3),
                "after_ms_per_page": round(new, 3),
                "ratio": round(old / new, 1),
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
