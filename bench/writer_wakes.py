"""The store writer alone: its thread's wake-ups per commit and per order (writer27).

A node's store (``sdex.store.Store``, a file in a temporary directory) fed on an asyncio loop
as a gossiping node feeds it: ``--rate`` orders a second, one in ``--waited`` awaited (a
wallet's order: its 2xx waits for the commit), the rest queued for nobody (a peer's). The loop
burns ``--work`` µs of CPU (pure Python, holding the GIL) per order, as the intake does, and a
second thread may do the same (``--busy``: a stand-in for the ECDSA worker). Prints JSON: per
thread (``/proc/self/task/TID/schedstat`` runs, ``status`` voluntary and non-voluntary context
switches, CPU seconds) per commit and per order, and the store's commits and jobs.

    PYTHONPATH=$PWD .venv/bin/python bench/writer_wakes.py --rate 100 --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sdex.order import Domain
from sdex.store import ChainIdentity, Store


def thread_stats() -> dict[str, list[float]]:
    """Per thread name: [cpu s, schedstat runs, voluntary, non-voluntary switches]."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, list[float]] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            sched = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
            status = Path(f"/proc/self/task/{tid}/status").read_text().splitlines()
        except OSError:
            continue
        vol = nonvol = 0
        for line in status:
            if line.startswith("voluntary_ctxt_switches:"):
                vol = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                nonvol = int(line.split()[1])
        name = names.get(int(tid), "other")
        row = out.setdefault(name, [0.0, 0.0, 0.0, 0.0])
        row[0] += int(sched[0]) / 1e9
        row[1] += int(sched[2])
        row[2] += vol
        row[3] += nonvol
    return out


def burn(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    x = 0
    while time.perf_counter() < end:
        x += 1


def row(i: int) -> tuple[object, ...]:
    now = time.time()
    h = f"0x{i:064x}"
    maker = f"0x{i % 50:040x}"
    order = {"maker": maker, "salt": str(i), "makerAmount": "1000000000000000000", "x": "y" * 300}
    return (h, i, maker, "0x" + "a" * 40, "0x" + "b" * 40, order, "open", "peer", "gtc", now, now)


async def feed(store: Store, rate: float, seconds: float, waited: int, work: float) -> int:
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    pending: list[asyncio.Future[None]] = []
    while loop.time() - start < seconds:
        due = start + n / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        burn(work)
        fut: asyncio.Future[None] | None = None
        if waited and n % waited == 0:
            fut = loop.create_future()
            pending.append(fut)
        store._writer.insert_async(row(n), fut)
        n += 1
    await asyncio.gather(*pending)
    return n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=100)
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--waited", type=int, default=8, help="one order in N awaited (0: none)")
    p.add_argument("--work", type=float, default=200, help="loop CPU µs per order")
    p.add_argument("--busy", type=float, default=0, help="a second thread's CPU share (0-1)")
    a = p.parse_args()
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            burn(1000 * a.busy)
            stop.wait(0.001 * (1 - a.busy))

    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "s.db", ChainIdentity(1, "0x" + "1" * 40, "0x" + "2" * 64),
                      Domain(1, "0x" + "1" * 40))  # fmt: skip
        if a.busy:
            threading.Thread(target=busy, name="busy", daemon=True).start()
        s0, t0 = store.stats(), thread_stats()
        n = asyncio.run(feed(store, a.rate, a.seconds, a.waited, a.work))
        s1, t1 = store.stats(), thread_stats()
        stop.set()
        store.close()
    commits = s1["commits"] - s0["commits"]
    out: dict[str, Any] = {"orders": n, "commits": commits, "jobs": s1["jobs"] - s0["jobs"]}
    for name in ("MainThread", "sdex-store", "sdex-checkpoint"):
        d0, d1 = t0.get(name, [0.0] * 4), t1.get(name, [0.0] * 4)
        delta = [y - x for x, y in zip(d0, d1, strict=True)]
        out[name] = {
            "cpu_ms_per_order": round(delta[0] * 1e3 / n, 4),
            "runs_per_order": round(delta[1] / n, 3),
            "runs_per_commit": round(delta[1] / max(commits, 1), 2),
            "voluntary_per_commit": round(delta[2] / max(commits, 1), 2),
            "nonvoluntary_per_commit": round(delta[3] / max(commits, 1), 2),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
