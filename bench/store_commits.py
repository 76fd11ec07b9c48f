"""The store writer's commit wall time (``Writer._commit``: p50, p99, max) over ``--rows``
order inserts, ``--group`` rows a commit, on a fresh database (``--prefill``: holding that
many orders first, stored in one transaction before the clock starts); the tree's ``sdex`` is the
one under ``--tree`` (default: this one), so two trees run the same bench. Rows are the
real schema's (``INSERT_ORDER``) with random hashes (the unique index's random inserts),
handed to the writer as the event loop hands them (``Writer.insert_async``) and awaited a
group at a time (``--makers``: the rows name that many makers in turn; each commit
then writes a leaf of ``orders_maker_seq`` per maker in it, as a node's HTTP bench does;
``--without-index NAME``: that index dropped first, so two runs tell what it costs).
Also: the WAL file's largest size seen and the checkpointer's counts (if the tree has one)
and the process's CPU a row (all threads). Prints JSON.

A/B: ``for i in 1 2 3; do for t in MAIN BRANCH; do python bench/store_commits.py --tree
$t; done; done``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def run(
    rows: int, group: int, makers: int, prefill: int, without: list[str]
) -> dict[str, Any]:
    import sdex.sqlwriter as sw
    from sdex.order import Domain
    from sdex.store import ChainIdentity, Store

    times: list[float] = []
    real = sw.Writer._commit

    def timed(self: Any, jobs: list[Any]) -> None:
        t0 = time.perf_counter()
        real(self, jobs)
        times.append(time.perf_counter() - t0)

    sw.Writer._commit = timed  # type: ignore[method-assign]
    domain = Domain(31337, "0x" + "ab" * 20)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.db"
        ident = ChainIdentity(domain.chain_id, domain.verifying_contract, "0x" + "00" * 32)
        store = Store(path, ident, domain)
        loop = asyncio.get_running_loop()
        writer = store._writer
        maker_list = ["0x" + f"{i + 0x11:02x}" * 20 for i in range(makers)]
        body = json.dumps({"maker": maker_list[0], "pad": "x" * 600})
        if prefill:  # (one transaction, before the clock: a node's older orders)
            pad, n = "0x" + "00" * 20, sw.INSERT_ORDER.count("?")
            old = [
                ("0x" + secrets.token_hex(32), i, maker_list[i % makers], "0x" + "01" * 20,
                 "0x" + "02" * 20, body, "open", "api", "gtc", 0.0, 0.0, pad)[:n]
                for i in range(1, prefill + 1)
            ]  # fmt: skip
            store._call(lambda db: db.executemany(sw.INSERT_ORDER, old))
            store.close()  # (and opened again: its WAL emptied, a checkpointer that never saw it)
            with contextlib.closing(sqlite3.connect(path)) as c:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            store = Store(path, ident, domain)
            writer = store._writer
        for name in without:  # (what an index costs the writer: the rows go on without it)
            store._call(lambda db, n=name: db.execute(f"DROP INDEX IF EXISTS {n}"))
        wal_max = 0
        times.clear()  # (the identity's bind, the drops, the prefill)
        t0, c0 = time.perf_counter(), time.process_time()
        seq = prefill + 1
        params = sw.INSERT_ORDER.count("?")  # (a tree before store37: 11, no taker)
        while seq <= prefill + rows:
            futs = []
            for _ in range(group):
                fut: asyncio.Future[None] = loop.create_future()
                now = time.time()
                row = (
                    "0x" + secrets.token_hex(32), seq, maker_list[seq % makers], "0x" + "01" * 20,
                    "0x" + "02" * 20, body, "open", "api", "gtc", now, now, "0x" + "00" * 20,
                )[:params]  # fmt: skip
                writer.insert_async(row, fut)
                futs.append(fut)
                seq += 1
            await asyncio.gather(*futs)
            with contextlib.suppress(OSError):
                wal_max = max(wal_max, os.path.getsize(str(path) + "-wal"))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        cp = getattr(writer, "checkpointer", None)
        checkpoints = (
            None
            if cp is None
            else {"passive": cp.passive, "blocking": cp.blocking, "failures": cp.failures}
        )
        store.close()
    return {
        "rows": rows,
        "group": group,
        "makers": makers,
        "prefill": prefill,
        "without": without,
        "commits": len(times),
        "commit_ms_p50": round(percentile(times, 0.5) * 1e3, 3),
        "commit_ms_p99": round(percentile(times, 0.99) * 1e3, 3),
        "commit_ms_max": round(max(times) * 1e3, 3),
        "commits_over_10ms": sum(t > 0.010 for t in times),
        "rows_per_s": round(rows / wall),
        "cpu_us_per_row": round(cpu / rows * 1e6, 2),
        "wal_max_mb": round(wal_max / 2**20, 2),
        "checkpoints": checkpoints,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", default=str(ROOT))
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--group", type=int, default=20)
    ap.add_argument(
        "--makers", type=int, default=1, help="makers the rows name in turn (a node's: many)"
    )
    ap.add_argument("--prefill", type=int, default=0, help="orders stored before the clock")
    ap.add_argument(
        "--without-index", action="append", default=[], help="an index dropped first (a cost)"
    )
    a = ap.parse_args()
    sys.path.insert(0, str(Path(a.tree).resolve()))
    out = asyncio.run(run(a.rows, a.group, max(1, a.makers), a.prefill, a.without_index))
    import sdex

    out["tree"] = str(Path(sdex.__file__).resolve().parents[1])
    out["load"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
