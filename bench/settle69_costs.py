#!/usr/bin/env python3
"""settle69's two costs, this tree against a reference checkout (``--ref-root``, e.g.
/work/main), each side in a process of its own, alternated:

- ``due_us``: ``OwnReceipts.due`` at a block below every let-go stub's (the usual apply
  while some are held), with ``overflow`` full (``MAX_OVERFLOW`` orders, ``MAX_LET_GO_TXS``
  transactions) — best of 5 means of 200 calls, thread CPU time;
- a start's store reads on a store of ``ROWS`` settlements (a third given up, the rest
  mined), made as an older version left it (no ``settlements_dropped`` index):
  ``first_open_ms`` (the first open: this tree makes the index there), then ``start_ms`` (an
  open, ``given_up_settlements`` and ``pending_settlements``, a close: best of 5, wall
  clock) and ``dropped_ms`` (``given_up_settlements`` alone, best of 5).

Run: PYTHONPATH=$PWD .venv/bin/python bench/settle69_costs.py --ref-root /work/main
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import best_us, measure_args, measured_rounds, print_ab  # noqa: E402

ROWS = 200_000


def due_us() -> float:
    from sdex.mirror.own import MAX_OVERFLOW, MAX_STUBS, OwnReceipts, Stub

    own = OwnReceipts()
    per = 4  # (orders a stub)
    for i in range(MAX_STUBS + MAX_OVERFLOW // per):
        orders = tuple((per * i + k).to_bytes(32, "big") for k in range(per))
        payers = ((f"0x{i:040x}", "0x" + "ee" * 20),)
        own.note(f"0x{i:064x}", Stub(f"0x{i:064x}", 1_000 + i, orders, payers, 0.0))
    assert len(own.overflow) == MAX_OVERFLOW
    return best_us(lambda: own.due(999), rounds=5, number=200)


def store_ms() -> dict[str, float]:
    from sdex.order import Domain
    from sdex.store import ChainIdentity, Store

    identity = ChainIdentity(31337, "0x" + "11" * 20, "0x" + "22" * 32)
    domain = Domain(31337, "0x" + "11" * 20)
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "n.db"
        Store(db, identity, domain).close()
        with sqlite3.connect(db) as conn:  # (an older version's store: no index of ours)
            conn.execute("DROP INDEX IF EXISTS settlements_dropped")
            conn.executemany(
                "INSERT INTO settlements VALUES (?,?,?,?,?,?,?)",
                (
                    (f"0x{i:064x}", i, "", "[]", "dropped" if i % 3 else "mined", i, float(i))
                    for i in range(ROWS)
                ),
            )
        conn.close()
        began = time.perf_counter()
        Store(db, identity, domain).close()
        out = {"first_open_ms": (time.perf_counter() - began) * 1e3}
        starts, drops = [], []
        for _ in range(5):
            began = time.perf_counter()
            store = Store(db, identity, domain)
            t = time.perf_counter()
            assert len(store.given_up_settlements()) == 256
            drops.append(time.perf_counter() - t)
            store.pending_settlements()
            store.close()
            starts.append(time.perf_counter() - began)
        out["start_ms"] = min(starts) * 1e3
        out["dropped_ms"] = min(drops) * 1e3
    return out


def measure() -> dict[str, float]:
    return {"due_us": due_us(), **store_ms()}


def main() -> None:
    args = measure_args(__doc__ or "", 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    print_ab({"rows": ROWS}, runs, ("due_us", "first_open_ms", "start_ms", "dropped_ms"))


if __name__ == "__main__":
    main()
