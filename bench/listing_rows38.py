"""Two measurements of leftovers38 on evicted (closed, stored) order rows:

1. ``listed``: CPU of 1,000 evicted orders' records made from their rows
   (``sdex.node.pages.stored_text``), which now checks each row's hash against its order
   text's EIP-712 hash: the first listing of the rows (``miss``: the hash computed), a later
   one (``hit``: the texts remembered, ``MAX_HASHED``) and, the reference, the same rows
   with no check (``unchecked``: the check replaced by one that says yes, as before),
   interleaved, ``runs`` rounds; medians and min-max spread.
2. ``taker_null``: the bytes an order anyone may fill keeps in the ``orders`` table with its
   ``taker`` column the zero address's 42 characters (as written) against NULL: rows of a
   real signed order's text, the table's payload and pages read from SQLite's ``dbstat``.

Run: PYTHONPATH=$PWD .venv/bin/python bench/listing_rows38.py [runs] [rows]
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.benchlib import machine
from sdex.node import pages
from sdex.order import ZERO_ADDRESS, Domain, Order, address_of, random_salt, sign_order
from sdex.store import ChainIdentity, Store

DOMAIN = Domain(31337, "0x" + "ab" * 20)
IDENTITY = ChainIdentity(31337, "0x" + "ab" * 20, "0x" + "cd" * 32)
KEY = bytes.fromhex("11" * 32)


def _order() -> Order:
    return Order(
        address_of(KEY), ZERO_ADDRESS, "0x" + "01" * 20, "0x" + "02" * 20,
        10**18, 3000 * 10**6, ZERO_ADDRESS, 0, 2**40, random_salt(),
    )  # fmt: skip


def listed(runs: int) -> dict[str, Any]:
    rows = []
    for _ in range(1000):
        s = sign_order(_order(), DOMAIN, KEY)
        text = json.dumps(s.to_json())
        rows.append((s.hash_hex, 1, text, "filled", "0", "", "api", 0.0, "gtc", "", ZERO_ADDRESS))

    def page() -> None:
        for r in rows:
            assert pages.stored_text(r, DOMAIN) is not None

    def miss() -> None:
        pages._HASHED.clear()
        page()

    def unchecked() -> None:
        check = pages._hash_is
        pages._hash_is = lambda *_a: True
        try:
            page()
        finally:
            pages._hash_is = check

    cases: dict[str, Callable[[], None]] = {"unchecked": unchecked, "miss": miss, "hit": page}
    ms: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            t0 = time.process_time()
            fn()
            ms[name].append((time.process_time() - t0) * 1000)
    ref = statistics.median(ms["unchecked"])
    return {
        name: {
            "cpu_ms_per_1000": round(statistics.median(v), 2),
            "min_max": [round(min(v), 2), round(max(v), 2)],
            "x_unchecked": round(statistics.median(v) / ref, 2),
        }
        for name, v in ms.items()
    }


def taker_null(n: int) -> dict[str, Any]:
    o = _order()
    text = json.dumps(sign_order(o, DOMAIN, KEY).to_json())
    out: dict[str, Any] = {}
    for name, taker in (("zero_address", ZERO_ADDRESS), ("null", None)):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.db"
            Store(path, IDENTITY, DOMAIN).close()
            with sqlite3.connect(path) as db:
                db.executemany(
                    "INSERT INTO orders (hash, seq, maker, maker_token, taker_token, order_json,"
                    " status, source, tif, created_at, updated_at, taker)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        (f"0x{i:064x}", i, o.maker, o.maker_token, o.taker_token, text,
                         "filled", "api", "gtc", 1.0, 1.0, taker)
                        for i in range(1, n + 1)
                    ),
                )  # fmt: skip
            with sqlite3.connect(path) as db:
                db.execute("VACUUM")
                payload, pages_, size = db.execute(
                    "SELECT SUM(payload), COUNT(*), SUM(pgsize) FROM dbstat WHERE name='orders'"
                ).fetchone()
            out[name] = {
                "payload_bytes_per_row": round(payload / n, 1),
                "table_pages": pages_,
                "table_bytes_per_row": round(size / n, 1),
                "file_bytes": path.stat().st_size,
            }
    return out


def main(runs: int, n: int) -> None:
    print(
        json.dumps(
            {
                "listed_1000_evicted_rows": listed(runs),
                "taker_null_rows": n,
                "taker_null": taker_null(n),
                "machine": machine(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 15,
        int(sys.argv[2]) if len(sys.argv) > 2 else 20_000,
    )
