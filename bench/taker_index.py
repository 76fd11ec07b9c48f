"""What the ``taker`` column and its partial index cost a stored order: left33's (a virtual
column from the row's JSON) against store37's (a plain column the insert writes).

The orders table three ways: ``none`` (no ``taker``, no ``orders_taker_seq``: before
left33), ``generated`` (left33's ``GENERATED ALWAYS AS (TAKER) VIRTUAL``, its insert without
it) and ``plain`` (this tree's schema and ``INSERT_ORDER``, the taker a parameter). SQLite on a
temp file (WAL, as the store), rows of real signed orders' JSON in transactions of 32 (the
writer's groups). ``--named`` of the orders name a taker. The three alternated (rotated
each pair), several pairs; per row CPU microseconds and the ratios. Prints JSON.

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

PLAIN_COLUMN = ",\n    taker       TEXT\n"
assert PLAIN_COLUMN in ORDERS_TABLE, "the orders table's taker column changed"
TABLES = {
    "none": ORDERS_TABLE.replace(PLAIN_COLUMN, "\n"),
    "generated": ORDERS_TABLE.replace(
        PLAIN_COLUMN, f",\n    taker TEXT GENERATED ALWAYS AS ({TAKER}) VIRTUAL\n"
    ),
    "plain": ORDERS_TABLE,
}
OLD_INDEXES = ORDER_INDEXES.split("-- GET /v1/orders?takerAddress=")[0]
OLD_INSERT = INSERT_ORDER.replace(", taker) VALUES (?,", ") VALUES (").replace(
    ", taker=excluded.taker", ""
)  # (left33's: the taker not written)
assert OLD_INSERT.count("?") == INSERT_ORDER.count("?") - 1
MODES = ("none", "generated", "plain")


def run(mode: str, rows: list[tuple[object, ...]], work: Path) -> float:
    path = work / f"{mode}-{time.monotonic_ns()}.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(TABLES[mode].format(name="orders"))
    db.executescript(OLD_INDEXES if mode == "none" else ORDER_INDEXES)
    sql = INSERT_ORDER if mode == "plain" else OLD_INSERT
    batch = rows if mode == "plain" else [r[:-1] for r in rows]  # (outside the clock)
    t = time.process_time()  # (CPU: the machine is shared)
    for k in range(0, len(batch), 32):
        db.execute("BEGIN")
        db.executemany(sql, batch[k : k + 32])
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
               "api", "gtc", 0.0, 0.0, s.order.taker.lower())  # fmt: skip
        rows.append(row)
    out = []
    with tempfile.TemporaryDirectory() as d:
        for p in range(a.pairs):
            order = MODES[p % 3 :] + MODES[: p % 3]
            got = {m: run(m, rows, Path(d)) for m in order}
            got["generated_over_none"] = got["generated"] / got["none"]
            got["plain_over_none"] = got["plain"] / got["none"]
            got["plain_over_generated"] = got["plain"] / got["generated"]
            out.append({k: round(v, 3) for k, v in got.items()})
            print(json.dumps(out[-1]), file=sys.stderr)
    ratios = {
        k: {"min": min(o[k] for o in out), "max": max(o[k] for o in out)}
        for k in ("generated_over_none", "plain_over_none", "plain_over_generated")
    }
    print(json.dumps({"rows": a.rows, "named": a.named, "pairs": out, "spread": ratios}, indent=1))


if __name__ == "__main__":
    main()
