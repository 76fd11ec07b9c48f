#!/usr/bin/env python3
"""The event loop's turns during a start's judging of the orders a kill left due a recheck
(``NodeVerdicts._recheck_stored``: their rows read back, the evicted ones held again,
``_persist_open``'s judging of each), ``--orders`` real signed orders stored closed ``filled``
(the devnet never filled them: each is reopened) and every one due a recheck, against the same
start with no recheck due (``plain``), sides alternated.

Per start, while ``_recheck_stored`` runs: its wall time (``recheck_s``), the loop thread's CPU
in one iteration of the loop (``cpu_max_ms``, ``cpu_over_100ms``: its turns' own work, whatever
the machine did meanwhile), the gaps between iterations (``gap_max_ms``), the collector's
longest run then (``gc_max_ms``: a full collection falls in one of those turns). The node
answers nothing meanwhile but from the loop (``/health`` 503 "starting", peers' requests).

Run: PYTHONPATH=$PWD .venv/bin/python bench/replay80_recheck_turns.py [--orders N] [--repeat R]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import gc
import json
import os
import sqlite3
import time
from typing import Any

import node as nb
from http_modes import devnet_node
from review73_rejudge_walk import fill

import sdex
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.node.main import serve


def mark(db_path: Path, due: bool) -> None:
    """Every order closed ``filled`` again, each due a recheck (``due``) or none."""
    db = sqlite3.connect(db_path)
    db.execute("UPDATE orders SET status='filled', reason='filled'")
    db.execute("DELETE FROM rechecks")
    if due:
        db.execute("INSERT INTO rechecks (order_hash) SELECT hash FROM orders")
    db.commit()
    db.close()


class Window:
    """The loop's iterations while ``_recheck_stored`` runs (a task yielding each one)."""

    def __init__(self) -> None:
        self.on = False
        self.began = self.ended = 0.0
        self.cpus: list[float] = []
        self.gaps: list[float] = []
        self.gcs: list[float] = []
        self._gc_at = 0.0

    def collector(self, phase: str, info: dict[str, int]) -> None:
        """``gc.callbacks``: the collector's runs while the window is on (wall time)."""
        if phase == "start":
            self._gc_at = time.perf_counter()
        elif self.on:
            self.gcs.append(time.perf_counter() - self._gc_at)

    async def spin(self) -> None:
        cpu, wall = time.thread_time(), time.perf_counter()
        while True:
            await asyncio.sleep(0)
            c, w = time.thread_time(), time.perf_counter()
            if self.on:
                self.cpus.append(c - cpu)
                self.gaps.append(w - wall)
            cpu, wall = c, w


WINDOW = Window()
_recheck = Node._recheck_stored


async def timed_recheck(self: Node) -> None:
    spin = asyncio.create_task(WINDOW.spin())
    await asyncio.sleep(0)
    WINDOW.on, WINDOW.began = True, time.perf_counter()
    try:
        await _recheck(self)
    finally:
        WINDOW.on, WINDOW.ended = False, time.perf_counter()
        spin.cancel()


Node._recheck_stored = timed_recheck  # type: ignore[method-assign]


async def start(cfg: NodeConfig) -> dict[str, Any]:
    global WINDOW
    WINDOW = Window()
    gc.callbacks.append(WINDOW.collector)
    t0 = time.perf_counter()
    async with serve(cfg) as node:
        ready = time.perf_counter() - t0
        reopened = node.open_orders
    gc.callbacks.remove(WINDOW.collector)
    w = WINDOW
    cpus, gaps = sorted(w.cpus) or [0.0], sorted(w.gaps) or [0.0]
    return {
        "ready_s": round(ready, 2),
        "recheck_s": round(w.ended - w.began, 2),
        "open_after": reopened,
        "iterations": len(w.cpus),
        "cpu_max_ms": round(cpus[-1] * 1000, 1),
        "cpu_over_100ms": sum(c > 0.1 for c in cpus),
        "gap_max_ms": round(gaps[-1] * 1000, 1),
        "gc_max_ms": round(max(w.gcs, default=0.0) * 1000, 1),
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--sides", default="rechecks,plain")
    args = ap.parse_args()
    sides = args.sides.split(",")
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    with devnet_node("sdex-recheckturns-") as (_, signer, cfg):
        asyncio.run(start(cfg))  # (the store made, empty: its schema and identity)
        fill(cfg.db, signer.resting(args.orders, list(range(nb.OPERATOR))))
        for _ in range(args.repeat):  # (alternated: A, B, A, B...)
            for side in sides:
                mark(cfg.db, side == "rechecks")
                runs[side].append(asyncio.run(start(cfg)))
                print(json.dumps({side: runs[side][-1]}), file=sys.stderr, flush=True)
    out = {"tree": str(Path(sdex.__file__).parent.parent), "orders": args.orders, **runs}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
