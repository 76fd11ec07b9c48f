"""``GET /v1/orders`` and ``/v1/fills`` pages on a large store: a page near the end by number
(``page``: ``COUNT(*)`` and ``OFFSET``) against the same page by cursor (``next``:
``sdex.storepage``), through the store's listing read (``StoreReads.order_rows``,
``fill_rows``: a worker thread on a read-only connection), same database, same run,
interleaved; then a ``status=open`` walk of 100 a page (10 pages, or to the listing's last)
while one order closes between two pages: how many orders open all along each walk left out.

Run: PYTHONPATH=$PWD .venv/bin/python bench/listing_cursor.py [orders] [runs]
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.benchlib import machine
from sdex.order import ZERO_ADDRESS, Domain, Order, address_of, random_salt, sign_order
from sdex.store import ChainIdentity, Store
from sdex.storepage import Cursor

DOMAIN = Domain(31337, "0x" + "ab" * 20)
IDENTITY = ChainIdentity(31337, "0x" + "ab" * 20, "0x" + "cd" * 32)
KEY = bytes.fromhex("11" * 32)
PER_PAGE = 100
OPEN_EVERY = 10
"""One order in this many is open (the others filled): a ``status=open`` listing."""


def fill_store(path: Path, n: int) -> tuple[str, str]:
    """``n`` orders (a real signed order's JSON text, 642 bytes, under ``n`` hashes) and ``n``
    fills, three to a block; returns the pair's tokens."""
    o = Order(
        address_of(KEY), ZERO_ADDRESS, "0x" + "01" * 20, "0x" + "02" * 20,
        10**18, 3000 * 10**6, ZERO_ADDRESS, 0, 2**40, random_salt(),
    )  # fmt: skip
    text = json.dumps(sign_order(o, DOMAIN, KEY).to_json())
    Store(path, IDENTITY, DOMAIN).close()
    pair = (o.maker_token.lower(), o.taker_token.lower())
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO orders (hash, seq, maker, maker_token, taker_token, order_json, status,"
            " source, tif, created_at, updated_at, taker) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    f"0x{i:064x}",
                    i,
                    o.maker.lower(),
                    *pair,
                    text,
                    "open" if i % OPEN_EVERY == 0 else "filled",
                    "api",
                    "gtc",
                    0.0,
                    0.0,
                    o.taker.lower(),
                )
                for i in range(1, n + 1)
            ),
        )
        db.executemany(
            "INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    f"0x{i:064x}",
                    i % 3,
                    1 + i // 3,
                    f"0x{i:064x}",
                    o.maker.lower(),
                    o.maker.lower(),
                    "1",
                    "2",
                    o.maker.lower(),
                    "0",
                    0,
                    i + 1,
                )
                for i in range(n)
            ),
        )
    return pair


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def late_pages(store: Store, pair: tuple[str, str], n: int, runs: int) -> dict[str, Any]:
    """ms (median) of the last full page by number and by cursor, for each listing."""
    out: dict[str, Any] = {}
    opened = n // OPEN_EVERY
    cases: list[tuple[str, dict[str, str], int, int]] = [
        ("orders", {}, n, n - PER_PAGE),
        ("orders_open", {"status": "open"}, opened, (opened - PER_PAGE) * OPEN_EVERY),
        ("orders_pair", {"maker_token": pair[0], "taker_token": pair[1]}, n, n - PER_PAGE),
    ]
    for name, filters, total, after in cases:
        last = total // PER_PAGE
        cursor = Cursor((after,), last, total)
        by_number: list[float] = []
        by_cursor: list[float] = []
        number = functools.partial(store.order_rows, filters, last, PER_PAGE)
        after_cursor = functools.partial(store.order_rows, filters, 1, PER_PAGE, cursor)
        for _ in range(runs):  # (interleaved: the machine's noise falls on both)
            by_number += await timed(number, 1)
            by_cursor += await timed(after_cursor, 1)
        a = await store.order_rows(filters, last, PER_PAGE)
        b = await store.order_rows(filters, 1, PER_PAGE, cursor)
        assert a.rows == b.rows and len(a.rows) == PER_PAGE, name  # the same page
        out[name] = _ratio(by_number, by_cursor)
    before = n - PER_PAGE  # (the seq of the fill before the last page: i + 1)
    last, key = n // PER_PAGE, (before,)
    fills_number: list[float] = []
    fills_cursor: list[float] = []
    for _ in range(runs):
        fills_number += await timed(lambda: store.fill_rows(last, PER_PAGE, None), 1)
        fills_cursor += await timed(
            lambda: store.fill_rows(1, PER_PAGE, None, Cursor(key, last, n)), 1
        )
    a_fills = await store.fill_rows(last, PER_PAGE, None)
    assert a_fills.rows == (await store.fill_rows(1, PER_PAGE, None, Cursor(key, last, n))).rows
    out["fills"] = _ratio(fills_number, fills_cursor)
    # before this change there was no index in chain order: every page sorted every fill
    uri = Path(store.path).resolve().as_uri() + "?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        unindexed = [_old_fills_page(db, last) for _ in range(runs)]
    out["fills_by_number_without_fills_chain_ms"] = round(statistics.median(unindexed), 2)
    return out


def _old_fills_page(db: sqlite3.Connection, page: int) -> float:
    t0 = time.perf_counter()
    db.execute("SELECT COUNT(*) FROM fills").fetchone()
    db.execute(
        "SELECT * FROM fills NOT INDEXED ORDER BY block_number, log_index LIMIT ? OFFSET ?",
        [PER_PAGE, (page - 1) * PER_PAGE],
    ).fetchall()
    return (time.perf_counter() - t0) * 1000


def _ratio(by_number: list[float], by_cursor: list[float]) -> dict[str, float]:
    a, b = statistics.median(by_number), statistics.median(by_cursor)
    return {"by_number_ms": round(a, 2), "by_cursor_ms": round(b, 3), "ratio": round(a / b, 1)}


async def skipped(store: Store, pages: int) -> dict[str, int]:
    """A ``status=open`` walk by number and one by cursor, up to ``pages`` pages each (fewer
    when the listing ends first: a store of 2,000 orders holds 2 pages of open ones), while
    one order it listed already fills between two pages: how many orders open all along, up
    to the walk's last, each walk left out, and how many pages each walked."""

    async def walk(by_cursor: bool) -> tuple[int, int]:
        got = await store.order_rows({"status": "open"}, 1, PER_PAGE)
        listed = [str(r[0]) for r in got.rows]
        walked = 1
        for page in range(2, pages + 1):
            if by_cursor and got.next is None:
                break  # (the listing's last page: no page after it)
            gone = listed[page - 2]  # an order listed already closes
            await store.update_orders([(gone, "filled", 1, "")])
            if by_cursor:
                assert got.next is not None
                got = await store.order_rows(
                    {"status": "open"}, 1, PER_PAGE, Cursor.parse(got.next, 1)
                )
            else:
                got = await store.order_rows({"status": "open"}, page, PER_PAGE)
                if not got.rows:
                    break  # (past the last page)
            listed += [str(r[0]) for r in got.rows]
            walked += 1
        end = listed[-1]
        # the orders open now (so all along) up to the walk's last (hashes sort as seqs)
        rows = await store.order_rows({"status": "open"}, 1, PER_PAGE * pages * 2)
        within = {str(r[0]) for r in rows.rows if str(r[0]) <= end}
        return len(within - set(listed)), walked

    by_number, pages_by_number = await walk(False)
    by_cursor, pages_by_cursor = await walk(True)
    return {
        "by_number_left_out": by_number,
        "by_cursor_left_out": by_cursor,
        "pages_by_number": pages_by_number,
        "pages_by_cursor": pages_by_cursor,
    }


async def main(n: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.db"
        pair = fill_store(path, n)
        store = Store(path, IDENTITY, DOMAIN)
        try:
            late = await late_pages(store, pair, n, runs)
            walks = await skipped(store, 10)
        finally:
            store.close()
        size = path.stat().st_size // 2**20
    print(
        json.dumps(
            {
                "orders": n,
                "fills": n,
                "db_mb": size,
                "per_page": PER_PAGE,
                "runs": runs,
                "late_page": late,
                "walk_status_open_one_close_a_page": walks,
                "machine": machine(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
                     int(sys.argv[2]) if len(sys.argv) > 2 else 15))  # fmt: skip
