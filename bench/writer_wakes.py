"""The store writer's wake-ups and GIL waits a commit and a row, with an event loop that
holds the GIL most of the time (as a loaded node's does, with its switch interval), A/B
against another tree.

One process a side (``--node-root``: import ``sdex`` from that checkout; alternated, ``--pairs``
times): a real file database set up as a node's (``sdex.storeschema``), a ``Writer`` with the
node's group window, and an event loop that every millisecond queues ``--rate``/1000 order
rows (one in ``--waited-every`` awaited, as a wallet's POST; the others a peer's, nobody
waiting) and then runs Python for ``--busy`` of the millisecond, giving up the GIL every
``--release-every`` us (a system call, as its socket reads and writes do). Per side: the writer
thread's runs (``/proc/self/task/TID/schedstat``: each time it was put on a core), its
voluntary and involuntary context switches (``/proc/.../status``: a voluntary one is a wait
(for the GIL, a queue, the group window, I/O), an involuntary one a preemption), its CPU,
and the commits, per commit and per row. Prints JSON.

wake60: a group of up to ``ROWS_A_STATEMENT`` rows is one ``INSERT`` in its own transaction
(main: ``BEGIN IMMEDIATE``, ``INSERT``, ``COMMIT``; each statement gives up the GIL twice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def thread_counts(tid: int) -> dict[str, float]:
    status = Path(f"/proc/self/task/{tid}/status").read_text()
    fields = dict(line.split(":\t") for line in status.splitlines() if ":\t" in line)
    ran_ns, _, runs = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[:3]
    return {
        "runs": int(runs),
        "voluntary": int(fields["voluntary_ctxt_switches"]),
        "involuntary": int(fields["nonvoluntary_ctxt_switches"]),
        "cpu_s": int(ran_ns) / 1e9,
    }


def side(a: argparse.Namespace) -> dict[str, Any]:
    """One side, in this process (``sdex`` from ``PYTHONPATH``)."""
    from sdex.sqlwriter import Writer
    from sdex.storeschema import open_order_counts, open_orders_table, open_schema

    tmp = tempfile.mkdtemp(prefix="wakes-", dir=a.dir)
    db = sqlite3.connect(os.path.join(tmp, "n.db"), isolation_level=None, check_same_thread=False)
    open_schema(db)
    open_orders_table(db)
    open_order_counts(db)
    w = Writer(db, group_window=0.002, max_group=1024)
    tid = next(t.native_id for t in threading.enumerate() if t.name == "sdex-store")
    assert tid is not None
    z = "0x" + "0" * 40

    def row(i: int) -> tuple[Any, ...]:
        order = {"salt": str(i), "maker": z, "makerAmount": "1000", "takerAmount": "2000"}
        return (f"0x{i:064x}", i + 1, f"0x{i % 50:040x}", z, z, order, "open", "peer:x", "gtc",
                i, i, z)  # fmt: skip

    async def run() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        owed = 0.0
        i = 0
        waits: list[asyncio.Future[None]] = []
        end = loop.time() + a.warmup + a.seconds
        start_at = loop.time() + a.warmup
        before: dict[str, float] | None = None
        commits0 = rows0 = 0
        last = loop.time()
        while loop.time() < end:
            now = loop.time()
            if before is None and now >= start_at:
                before, commits0, rows0 = thread_counts(tid), w.commits, i
            owed += a.rate * (now - last)
            last = now
            while owed >= 1:
                owed -= 1
                fut = loop.create_future() if i % a.waited_every == 0 else None
                w.insert_async(row(i), fut)
                if fut is not None:
                    waits.append(fut)
                i += 1
            spin_until = time.perf_counter() + a.busy / 1000
            release_at = time.perf_counter() + a.release_every / 1e6
            x = 0
            while (t := time.perf_counter()) < spin_until:
                x += 1
                if t >= release_at:  # a system call, as the loop's socket reads and writes
                    time.sleep(0)
                    release_at = t + a.release_every / 1e6
            await asyncio.sleep(0.001 * (1 - a.busy))
        await asyncio.gather(*waits)
        await asyncio.sleep(0.3)  # (the lazy rows' hand-over and commit)
        after = thread_counts(tid)
        assert before is not None
        commits, rows = w.commits - commits0, i - rows0
        out: dict[str, Any] = {"commits": commits, "rows": rows, "rows_per_commit": rows / commits}
        for k in ("runs", "voluntary", "involuntary"):
            d = after[k] - before[k]
            out[f"writer_{k}_per_commit"] = round(d / commits, 2)
            out[f"writer_{k}_per_row"] = round(d / rows, 3)
        cpu = after["cpu_s"] - before["cpu_s"]
        out["writer_cpu_us_per_row"] = round(1e6 * cpu / rows, 2)
        out["writer_cpu_us_per_commit"] = round(1e6 * cpu / commits, 1)
        return out

    try:
        return asyncio.run(run())
    finally:
        w.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rate", type=float, default=1000.0, help="rows a second")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--busy", type=float, default=0.8, help="share of each ms the loop runs")
    p.add_argument("--release-every", type=float, default=400.0,
                   help="us between the loop's GIL releases (sleep(0)) as it runs")  # fmt: skip
    p.add_argument("--switch-interval", type=float, default=0.0005, help="the node's")
    p.add_argument("--waited-every", type=int, default=8, help="one row in N awaited")
    p.add_argument("--dir", default=None, help="the database's directory (default: the temp)")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--node-root", type=Path, default=Path("/work/main"), help="the B side")
    p.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.side:
        sys.setswitchinterval(a.switch_interval)
        print(json.dumps(side(a)))
        return
    args = [
        f"--rate={a.rate}",
        f"--seconds={a.seconds}",
        f"--warmup={a.warmup}",
        f"--busy={a.busy}",
        f"--waited-every={a.waited_every}",
        "--side",
        f"--switch-interval={a.switch_interval}",
        f"--release-every={a.release_every}",
    ]
    if a.dir:
        args.append(f"--dir={a.dir}")  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {"this": [], "base": []}
    for k in range(a.pairs):
        order = [("this", ROOT), ("base", a.node_root)]
        for name, root in order if k % 2 == 0 else order[::-1]:
            env = {**os.environ, "PYTHONPATH": str(root)}
            out = subprocess.run([sys.executable, __file__, *args], env=env, check=True,
                                 capture_output=True, text=True).stdout  # fmt: skip
            results[name].append(json.loads(out))
    print(json.dumps({"args": vars(a) | {"node_root": str(a.node_root)}, **results}, indent=1))


if __name__ == "__main__":
    main()
