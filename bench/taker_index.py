"""What the ``taker`` column and its partial index (left33) cost a stored order.

The orders table with ``taker`` (a virtual column from the row's JSON) and
``orders_taker_seq`` (only orders that name a taker) against the same table without them,
SQLite on a temp file (WAL, as the store), ``INSERT_ORDER`` rows of real signed orders'
JSON in transactions of 32 (the writer's groups). ``--named`` of the orders name a taker.
Alternated A/B, several pairs; per row CPU microseconds and new / old. Prints JSON.

    PYTHONPATH=$PWD .venv/bin/python bench/taker_index.py [--pairs 5] [--rows 20000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sdex.storeschema import INSERT_ORDER, ORDER_INDEXES, ORDERS_TABLE, TAKER  # noqa: E402
from tests.test_book import A  # noqa: E402
from tests.test_book import ask as book_ask  # noqa: E402

OLD_TABLE = ORDERS_TABLE.replace(
    ",\n    taker       TEXT GENERATED ALWAYS AS ({taker}) VIRTUAL", ""
)
OLD_INDEXES = ORDER_INDEXES.split("-- GET /v1/orders?takerAddress=")[0]


def run(new: bool, rows: list[tuple[object, ...]], work: Path) -> float:
    path = work / f"{'new' if new else 'old'}-{time.monotonic_ns()}.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute((ORDERS_TABLE if new else OLD_TABLE).format(name="orders", taker=TAKER))
    db.executescript(ORDER_INDEXES if new else OLD_INDEXES)
    t = time.process_time()  # (CPU: the machine is shared)
    for k in range(0, len(rows), 32):
        db.execute("BEGIN")
        db.executemany(INSERT_ORDER, rows[k : k + 32])
        db.execute("COMMIT")
    spent = time.process_time() - t
    db.close()
    return 1e6 * spent / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--named", type=float, default=0.1, help="share of orders naming a taker")
    a = ap.parse_args()
    every = max(1, round(1 / a.named)) if a.named > 0 else 0
    rows: list[tuple[object, ...]] = []
    for i in range(a.rows):
        taker = "0x" + f"{i % 97 + 1:040x}" if every and i % every == 0 else "0x" + "00" * 20
        s = book_ask(A, 10 + i, 100 + i, taker=taker)
        text = json.dumps(s.to_json())
        row = (s.hash_hex, i + 1, A, s.order.maker_token, s.order.taker_token, text, "open",
               "api", "gtc", 0.0, 0.0)  # fmt: skip
        rows.append(row)
    out = []
    with tempfile.TemporaryDirectory() as d:
        for p in range(a.pairs):
            order = (True, False) if p % 2 else (False, True)
            got = {("new" if n else "old"): run(n, rows, Path(d)) for n in order}
            got["new_over_old"] = got["new"] / got["old"]
            out.append({k: round(v, 3) for k, v in got.items()})
            print(json.dumps(out[-1]), file=sys.stderr)
    print(json.dumps({"rows": a.rows, "named": a.named, "pairs": out}, indent=1))


if __name__ == "__main__":
    main()
