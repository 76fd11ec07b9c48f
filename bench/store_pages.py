"""Where the store writer's commits go when a node settles: the pages (B-tree by B-tree)
that each write of a settled batch puts in the WAL, and the writer's CPU for them.

A batch of ``--matches`` settled matches writes, as a node's store does (``sdex.store``,
``sdex.storechain``), each in its own transaction here: the settlement's record (its signed
raw transaction: ``Store.add_settlement``), its fills (``_fills_job``: two a match), the two
orders' rows (``Store.update_orders``' statement), the settlement's status
(``Store.set_settlement_status``: the tree's statement), the mirror's changed orders
(``save_mirror``'s ``mirror_orders`` rows). After each commit the WAL's new frames are
read and each page is named by ``dbstat`` (the table or index it belongs to; a record's
overflow pages are its table's). The WAL is checkpointed after each batch (its CPU
apart: the checkpointer thread's). ``--prefill`` batches are stored first (one
transaction, not measured): the indexes keyed by a random hash (``fills_order_seq``,
``mirror_orders``' own) then hold that many leaves, and a commit writes about one leaf an
insert once they outnumber a batch's inserts. Amounts, hashes and addresses random, sizes
as the node's (a batch's raw transaction ``--raw-bytes`` bytes, hex). The tree's ``sdex``
is the one on ``sys.path``
(``PYTHONPATH``). Prints JSON.

``PYTHONPATH=. python bench/store_pages.py [--prefill 30] [--batches 20] [--matches 100]``
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sdex.store
from sdex.store import UPDATE_ORDER
from sdex.storechain import _fills_job
from sdex.storefills import StoredFill
from sdex.storeschema import INSERT_ORDER, ORDER_INDEXES, ORDERS_TABLE, open_schema

STATUS_SQL = getattr(
    sdex.store, "SETTLEMENT_DONE", "UPDATE settlements SET status=?, updated_at=? WHERE tx_hash=?"
)
"""The tree's statement of a settlement mined (before anvil60's, the plain update)."""
WAL_HEADER = 32
FRAME_HEADER = 24


def _hex(n: int) -> str:
    return "0x" + secrets.token_hex(n)


class Batch:
    """One settled batch's rows: its orders (two a match), fills, mirror rows, raw tx."""

    def __init__(self, number: int, matches: int, raw_bytes: int, seq: int) -> None:
        self.tx = _hex(32)
        self.orders = [secrets.token_bytes(32) for _ in range(2 * matches)]
        self.makers = [_hex(20) for _ in range(2 * matches)]
        self.fills = [
            StoredFill(
                order_hash=h, maker=m, taker=_hex(20), maker_filled=10**18 + i,
                taker_filled=3 * 10**21 + i, fee_recipient="0x" + "11" * 20, fee=10**15,
                block_number=number, tx_hash=self.tx, log_index=3 * i + 2, ours=True,
            )
            for i, (h, m) in enumerate(zip(self.orders, self.makers, strict=True))
        ]  # fmt: skip
        self.raw = _hex(raw_bytes)
        pairs = zip(self.orders[::2], self.orders[1::2], strict=True)
        self.pairs = json.dumps([["0x" + a.hex(), "0x" + b.hex()] for a, b in pairs])
        now = time.time()
        self.order_rows = [
            ("0x" + h.hex(), seq + i, m, "0x" + "22" * 20, "0x" + "33" * 20,
             json.dumps({"maker": m, "salt": str(i), "pad": "x" * 400}), "open", "api", "gtc",
             now, now, "0x" + "00" * 20)
            for i, (h, m) in enumerate(zip(self.orders, self.makers, strict=True))
        ]  # fmt: skip

    def jobs(self) -> list[tuple[str, Callable[[sqlite3.Connection], object]]]:
        now = time.time()
        record = (self.tx, 1, self.raw, self.pairs, "pending", now, now)
        one = "1000000000000000000"
        updates = [("filled", one, "filled", now, "0x" + h.hex()) for h in self.orders]
        mirror = [("0x" + h.hex(), one, 0) for h in self.orders]
        return [
            ("settlement_record", lambda db: db.execute(
                "INSERT OR REPLACE INTO settlements VALUES (?,?,?,?,?,?,?)", record)),
            ("fills", _fills_job(self.fills)),
            ("orders_update", lambda db: db.executemany(UPDATE_ORDER, updates)),
            ("settlement_status", lambda db: db.execute(STATUS_SQL, ("mined", now, self.tx))),
            ("mirror_orders", lambda db: db.executemany(
                "INSERT OR REPLACE INTO mirror_orders VALUES (?,?,?)", mirror)),
        ]  # fmt: skip


def wal_pages(path: str, start: int) -> tuple[list[int], int]:
    """The page numbers of the WAL's frames from byte ``start`` on, and its size."""
    try:
        data = Path(path + "-wal").read_bytes()
    except FileNotFoundError:
        return [], 0
    if len(data) < WAL_HEADER:
        return [], len(data)
    size = struct.unpack(">I", data[8:12])[0]
    at = max(start, WAL_HEADER)
    pages = []
    while at + FRAME_HEADER + size <= len(data):
        pages.append(struct.unpack(">I", data[at : at + 4])[0])
        at += FRAME_HEADER + size
    return pages, len(data)


def run(args: argparse.Namespace) -> dict[str, object]:
    tmp = tempfile.mkdtemp(prefix="store-pages-")
    path = os.path.join(tmp, "node.db")
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    open_schema(db)
    db.execute(ORDERS_TABLE.format(name="orders"))
    db.executescript(ORDER_INDEXES)
    seq = 1
    number = 1

    def store_orders(b: Batch) -> None:
        db.executemany(INSERT_ORDER, b.order_rows)

    db.execute("BEGIN")
    for _ in range(args.prefill):
        b = Batch(number, args.matches, args.raw_bytes, seq)
        seq, number = seq + 2 * args.matches, number + 1
        store_orders(b)
        for _, job in b.jobs():
            job(db)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages: dict[str, Counter[str]] = {}
    cpu: Counter[str] = Counter()
    for _ in range(args.batches):
        b = Batch(number, args.matches, args.raw_bytes, seq)
        seq, number = seq + 2 * args.matches, number + 1
        db.execute("BEGIN")
        store_orders(b)  # (accepted before: not this batch's cost)
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        names = dict(db.execute("SELECT pageno, name FROM dbstat").fetchall())
        offset = 0
        for name, job in b.jobs():
            t0 = time.thread_time()
            db.execute("BEGIN IMMEDIATE")
            job(db)
            db.execute("COMMIT")
            cpu[name] += time.thread_time() - t0
            new, offset = wal_pages(path, offset)
            names.update(db.execute("SELECT pageno, name FROM dbstat").fetchall())
            pages.setdefault(name, Counter()).update(names.get(p, "?") for p in new)
        t0 = time.thread_time()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cpu["checkpoint"] += time.thread_time() - t0
    db.close()
    for f in Path(tmp).iterdir():
        f.unlink()
    os.rmdir(tmp)
    per_match = args.batches * args.matches
    return {
        "matches_a_batch": args.matches,
        "prefill_batches": args.prefill,
        "batches": args.batches,
        "raw_tx_bytes": args.raw_bytes,
        "sqlite": sqlite3.sqlite_version,
        "wal_pages_a_batch": {
            job: {"total": round(sum(c.values()) / args.batches, 1)}
            | {k: round(v / args.batches, 1) for k, v in c.most_common()}
            for job, c in pages.items()
        },
        "writer_cpu_us_a_match": {k: round(v / per_match * 1e6, 2) for k, v in cpu.items()},
        "writer_cpu_us_a_match_total": round(sum(cpu.values()) / per_match * 1e6, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefill", type=int, default=30, help="batches stored before (unmeasured)")
    ap.add_argument("--batches", type=int, default=20, help="batches measured")
    ap.add_argument("--matches", type=int, default=100, help="matches a batch")
    ap.add_argument(
        "--raw-bytes", type=int, default=100_000,
        help="the signed batch's bytes (stored as hex: twice as many characters)",
    )  # fmt: skip
    print(json.dumps(run(ap.parse_args()), indent=2))


if __name__ == "__main__":
    main()
