"""A listing page whose filter matches few rows: what the store reads for it, by cursor and
by number, against a common filter's page (review18).

``status`` has no index (every order's status changes; an index would cost each change a
write): a page of a status few orders have reads the table from the cursor (or, by number,
counts every row) until ``perPage`` + 1 match, however few it returns, and the listing
budget charges what it returns (1 record at least). Same store as bench/listing_cursor.py
(one order in ten open, the rest filled); ``cancelled``: none. Medians in ms, interleaved.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench.benchlib import machine
from bench.listing_cursor import DOMAIN, IDENTITY, PER_PAGE, fill_store, timed
from sdex.store import Store
from sdex.storepage import Cursor


async def main(n: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.db"
        fill_store(path, n)
        store = Store(path, IDENTITY, DOMAIN)
        start = Cursor((0,), 2, 0)  # (a forged cursor: the walk's start)
        cases = {
            "open_by_cursor": lambda: store.order_rows({"status": "open"}, 1, PER_PAGE, start),
            "cancelled_by_cursor": lambda: store.order_rows(
                {"status": "cancelled"}, 1, PER_PAGE, start
            ),
            "cancelled_page_1": lambda: store.order_rows({"status": "cancelled"}, 1, PER_PAGE),
        }
        got: dict[str, list[float]] = {k: [] for k in cases}
        rows = {k: len((await fn()).rows) for k, fn in cases.items()}
        try:
            for _ in range(runs):
                for k, fn in cases.items():
                    got[k] += await timed(fn, 1)
        finally:
            store.close()
    med = {k: round(statistics.median(v), 2) for k, v in got.items()}
    print(json.dumps({
        "orders": n, "per_page": PER_PAGE, "runs": runs, "rows_returned": rows, "median_ms": med,
        "ratio_cancelled_to_open_by_cursor": round(
            med["cancelled_by_cursor"] / med["open_by_cursor"], 1),
        "machine": machine(),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
                     int(sys.argv[2]) if len(sys.argv) > 2 else 15))  # fmt: skip
