"""The first page of ``GET /v1/orders?status=open`` (and of ``/v1/orders``) by number on a
large store: its ``total`` read from ``order_counts`` (kept by triggers:
``sdex.storeschema.ORDER_COUNTS``) against counted by ``COUNT(*)`` (before: ``status`` has
no index, every row read), same store, same run, interleaved, through the store's listing
read (``StoreReads._listing``: a worker thread, its own read-only connection). Then what
the triggers cost the writes: the same orders inserted through the store's writer into two
fresh stores, one without the triggers, in turn, and the same status changes in each.

Run: PYTHONPATH=$PWD .venv/bin/python bench/listing_count.py [orders] [runs]
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.benchlib import machine
from bench.listing_cursor import DOMAIN, IDENTITY, OPEN_EVERY, PER_PAGE, fill_store
from sdex.store import Store
from sdex.storepage import ORDER_KEY, Listing
from sdex.storeschema import COUNT_TRIGGERS, ORDER_SELECT

WRITES = 20_000
"""Orders inserted (then each one's status changed) into each fresh store."""


async def first_pages(store: Store, runs: int) -> dict[str, Any]:
    """ms (median) of page 1 by number, counted from ``order_counts`` and by ``COUNT(*)``."""
    out: dict[str, Any] = {}
    for name, filters in [("orders_open", {"status": "open"}), ("orders", {})]:
        conds = [f"{k}=?" for k in filters]
        old = Listing(ORDER_SELECT, "orders", conds, list(filters.values()), ORDER_KEY, (1,))
        kept: list[float] = []
        scanned: list[float] = []
        for _ in range(runs):  # (interleaved: the machine's noise falls on both)
            t0 = time.perf_counter()
            a = await store.order_rows(filters, 1, PER_PAGE)
            t1 = time.perf_counter()
            b = await store._listing(old.page(1, PER_PAGE, None))
            t2 = time.perf_counter()
            kept.append((t1 - t0) * 1000)
            scanned.append((t2 - t1) * 1000)
            assert a.total == b.total and a.rows == b.rows and a.next == b.next, name
        k, s = statistics.median(kept), statistics.median(scanned)
        out[name] = {
            "count_star_ms": round(s, 2),
            "order_counts_ms": round(k, 3),
            "ratio": round(s / k, 1),
            "total": a.total,
        }
    return out


async def _writes(path: Path, rows: list[tuple[object, ...]]) -> tuple[float, float]:
    """ms to insert ``rows`` through the store's writer (``insert_async``, as a node's
    orders: group commits, 500 awaited at a time), then to change each one's status
    (``update_orders``, one job)."""
    store = Store(path, IDENTITY, DOMAIN)
    loop = asyncio.get_running_loop()
    try:
        t0 = time.perf_counter()
        waiting: list[asyncio.Future[None]] = []
        for row in rows:
            fut: asyncio.Future[None] = loop.create_future()
            store._writer.insert_async(row, fut)
            waiting.append(fut)
            if len(waiting) == 500:
                await asyncio.gather(*waiting)
                waiting = []
        await asyncio.gather(*waiting)
        t1 = time.perf_counter()
        await store.update_orders([(str(r[0]), "filled", 1, "") for r in rows])
        t2 = time.perf_counter()
    finally:
        store.close()
    return (t1 - t0) * 1000, (t2 - t1) * 1000


async def write_cost(tmp: Path, rows: list[tuple[object, ...]], runs: int) -> dict[str, Any]:
    """Inserts and status changes into a fresh store with the triggers, and one without."""
    times: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
    for i in range(runs):
        for kind in ("with", "without") if i % 2 == 0 else ("without", "with"):
            path = tmp / f"w{i}{kind}.db"
            Store(path, IDENTITY, DOMAIN).close()
            if kind == "without":
                with sqlite3.connect(path) as db:
                    for name in COUNT_TRIGGERS:
                        db.execute(f"DROP TRIGGER {name}")
                db.close()
            times[kind].append(await _writes(path, rows))
            for leftover in tmp.glob(f"w{i}{kind}.db*"):
                leftover.unlink()
    out: dict[str, Any] = {}
    for part, at in (("insert", 0), ("status_change", 1)):
        w = statistics.median(t[at] for t in times["with"])
        wo = statistics.median(t[at] for t in times["without"])
        out[part] = {"with_ms": round(w, 1), "without_ms": round(wo, 1), "ratio": round(w / wo, 3)}
    return out


async def main(n: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.db"
        t0 = time.perf_counter()
        fill_store(path, n)
        with sqlite3.connect(path) as db:  # (the count a store from before does at open)
            db.execute("DROP TABLE order_counts")
            for name in COUNT_TRIGGERS:
                db.execute(f"DROP TRIGGER {name}")
        db.close()
        t1 = time.perf_counter()
        store = Store(path, IDENTITY, DOMAIN)
        opened_ms = (time.perf_counter() - t1) * 1000
        try:
            pages = await first_pages(store, runs)
            with sqlite3.connect(path) as db:
                rows = [
                    tuple(r)
                    for r in db.execute(
                        "SELECT hash, seq, maker, maker_token, taker_token, order_json, status,"
                        " source, tif, created_at, updated_at FROM orders LIMIT ?",
                        [WRITES],
                    )
                ]
            db.close()
        finally:
            store.close()
        writes = await write_cost(Path(tmp), rows, max(4, runs // 3))
        print(
            json.dumps(
                {
                    "orders": n,
                    "open_every": OPEN_EVERY,
                    "runs": runs,
                    "fill_s": round(t1 - t0, 1),
                    "open_with_first_count_ms": round(opened_ms, 1),
                    "first_page": pages,
                    "writes_of": WRITES,
                    "writes": writes,
                    "machine": machine(),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
                     int(sys.argv[2]) if len(sys.argv) > 2 else 15))  # fmt: skip
