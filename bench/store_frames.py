"""What each part of the orders schema costs the store writer a row: WAL frames (pages) its
commits write and the writer thread's CPU, with a variant of the schema or the connection.

The rows are the node's (``sdex.storeschema``'s schema, ``INSERT_ORDER``, order JSON as
``sdex.ordertext.order_text`` writes it), inserted as ``sdex.sqlwriter._insert_group``
inserts a group (``BEGIN IMMEDIATE``, multi-row ``INSERT``s, ``COMMIT``), ``--group`` rows
a commit, naming ``--makers`` makers in turn, into a database already holding ``--prefill``
orders (of 2,000 other makers and these). ``--frames``: no checkpoint, the WAL's size at the
end told in frames a row; else a passive checkpoint every ``--checkpoint-every`` commits on
a second connection of this thread (its CPU apart: ``ckpt_us_row``), as the node's
checkpointer does on its own thread. Variants: ``--pre SQL`` (before the schema: a
``page_size``), ``--post SQL`` (after it: ``DROP INDEX orders_maker_seq``, a
``cache_size``); ``--lazy-maker N``: a prototype of the maker index filled N rows at a time
(``LAZY_MAKER``). Prints JSON. Alternate variants in one loop: the load moves CPU figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def row(seq: int, maker: str, rnd: random.Random) -> tuple[Any, ...]:
    """An order row as the node stores it (random hash, amounts, salt and signature)."""
    from sdex.ordertext import order_text

    o = {
        "maker": maker, "taker": "0x" + "00" * 20, "makerToken": "0x" + "01" * 20,
        "takerToken": "0x" + "02" * 20, "makerAmount": str(rnd.randrange(10**18, 10**21)),
        "takerAmount": str(rnd.randrange(10**18, 10**21)), "feeRecipient": "0x" + "00" * 20,
        "feeAmount": "0", "expiry": str(1_800_000_000 + rnd.randrange(10**6)),
        "salt": str(rnd.getrandbits(250)), "signature": "0x" + rnd.randbytes(65).hex(),
    }  # fmt: skip
    now = time.time()
    return (
        "0x" + rnd.randbytes(32).hex(), seq, maker, o["makerToken"], o["takerToken"],
        order_text(o), "open", "api", "gtc", now, now, o["taker"],
    )  # fmt: skip


LAZY_MAKER = """
DROP INDEX orders_maker_seq;
CREATE TABLE order_makers (maker TEXT, seq INTEGER, PRIMARY KEY (maker, seq)) WITHOUT ROWID;
INSERT INTO order_makers SELECT maker, seq FROM orders;
"""
"""``--lazy-maker``: the maker index as a table of its own, filled a batch of rows at a time
(a read by maker would read it and the rows past its mark: not the node's code)."""
LAZY_MAKER_BATCH = "INSERT INTO order_makers SELECT maker, seq FROM orders WHERE seq > ?"


def run(a: argparse.Namespace) -> dict[str, Any]:
    from sdex import sqlwriter, storeschema

    rnd = random.Random(1)
    makers = [f"0x{i * 7919 + 1:040x}" for i in range(a.makers)]
    others = [f"0x{i * 104729 + 3:040x}" for i in range(2000)] + makers
    d = tempfile.mkdtemp()
    try:
        path = f"{d}/frames.db"
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for sql in a.pre:
            db.execute(sql)
        storeschema.open_schema(db)
        storeschema.open_orders_table(db)
        storeschema.open_order_counts(db)
        for sql in a.post:
            db.executescript(sql)
        db.execute("BEGIN")
        for seq in range(1, a.prefill + 1):
            db.execute(storeschema.INSERT_ORDER, row(seq, rnd.choice(others), rnd))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = [row(a.prefill + 1 + i, makers[i % a.makers], rnd) for i in range(a.rows)]
        if a.lazy_maker:  # (the prototype: orders_maker_seq's entries a batch at a time)
            db.executescript(LAZY_MAKER)
        cp = sqlite3.connect(path, isolation_level=None)
        insert = checkpoint = 0.0
        mark = a.prefill
        for n, k in enumerate(range(0, a.rows, a.group)):
            t = time.thread_time()
            db.execute("BEGIN IMMEDIATE")
            sqlwriter._insert_group(db, rows[k : k + a.group])
            if a.lazy_maker and a.prefill + k + a.group - mark >= a.lazy_maker:
                db.execute(LAZY_MAKER_BATCH, (mark,))
                mark = a.prefill + k + a.group
            db.execute("COMMIT")
            insert += time.thread_time() - t
            if not a.frames and n % a.checkpoint_every == a.checkpoint_every - 1:
                t = time.thread_time()
                frames = cp.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                if frames >= 8000:  # (the node's RESTART_FRAMES)
                    cp.execute("PRAGMA wal_checkpoint(RESTART)")
                checkpoint += time.thread_time() - t
        page = int(db.execute("PRAGMA page_size").fetchone()[0])
        wal_frames = os.path.getsize(path + "-wal") / (page + 24) if a.frames else None
        cp.close()
        db.close()
    finally:
        shutil.rmtree(d)
    return {
        "pre": a.pre,
        "post": a.post,
        "makers": a.makers,
        "prefill": a.prefill,
        "group": a.group,
        "lazy_maker": a.lazy_maker,
        "page_size": page,
        "insert_us_row": round(insert / a.rows * 1e6, 2),
        "ckpt_us_row": None if a.frames else round(checkpoint / a.rows * 1e6, 2),
        "frames_row": None if wal_frames is None else round(wal_frames / a.rows, 3),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", default=str(ROOT))
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--group", type=int, default=11)
    ap.add_argument("--makers", type=int, default=19)
    ap.add_argument("--prefill", type=int, default=50_000)
    ap.add_argument("--frames", action="store_true", help="no checkpoint: WAL frames a row")
    ap.add_argument("--checkpoint-every", type=int, default=24, help="commits")
    ap.add_argument("--lazy-maker", type=int, default=0, help="rows a maker-index batch")
    ap.add_argument("--pre", action="append", default=[], help="SQL before the schema")
    ap.add_argument("--post", action="append", default=[], help="SQL after the schema")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(a.tree).resolve()))
    print(json.dumps(run(a)))


if __name__ == "__main__":
    main()
