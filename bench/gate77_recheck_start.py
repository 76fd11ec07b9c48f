#!/usr/bin/env python3
"""How long a start with ``--due N`` orders left due a recheck (``rechecks``: recheck75, a kill
while they were due) takes to be ready, against the same start without them, on a devnet:
``_recheck_stored`` reads them back from the store (each closed one not in memory: one
``order_now`` on the event loop each before gate77, one read of them all in a worker thread
after).

Set-up (review73's ``fill``): ``--due`` real signed orders stored closed ``cancelled`` by
their makers' soft cancels (the node's own close: a recheck reads them back and leaves them
closed), each with its ``rechecks`` row (side ``due``) or none (side ``plain``), sides
alternated. Per start: ``ready_s`` (``serve`` until ready) and ``recheck_s`` (the time in
``_recheck_stored``; ``reads_s``: of it, in the store's reads of those orders, and
``read_calls``). Run it with each tree's ``PYTHONPATH`` (this file works on both) to
compare old and new.

Run: PYTHONPATH=$PWD .venv/bin/python bench/gate77_recheck_start.py [--due N] [--repeat R]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
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
from sdex.store import Store

TIMES: list[float] = []
READS = [0.0, 0]
"""Seconds in the store's reads of evicted orders (``order_now``: on the loop, each; or
``orders_of``: awaited, the loop free) during ``_recheck_stored``, and how many calls."""


def timed_reads() -> None:
    """``Store.order_now`` (and ``orders_of``, where there is one) timed into ``READS``."""
    one = Store.order_now

    def order_now(self: Store, hash_hex: str) -> Any:
        t0 = time.perf_counter()
        try:
            return one(self, hash_hex)
        finally:
            READS[0] += time.perf_counter() - t0
            READS[1] += 1

    Store.order_now = order_now  # type: ignore[method-assign]
    many = getattr(Store, "orders_of", None)
    if many is None:
        return

    async def orders_of(self: Store, hashes: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await many(self, hashes)
        finally:
            READS[0] += time.perf_counter() - t0
            READS[1] += 1

    Store.orders_of = orders_of  # type: ignore[attr-defined]


def timed_rechecks() -> None:
    """``Node._recheck_stored`` timed (its time appended to ``TIMES``)."""
    plain = Node._recheck_stored

    async def timed(self: Node) -> None:
        t0 = time.perf_counter()
        READS[:] = [0.0, 0]
        try:
            await plain(self)
        finally:
            TIMES.append(time.perf_counter() - t0)

    Node._recheck_stored = timed  # type: ignore[method-assign]


def mark(db_path: Path, due: bool) -> None:
    """Every order closed ``cancelled`` (soft) again, its ``rechecks`` row there or not."""
    db = sqlite3.connect(db_path)
    db.execute("UPDATE orders SET status='cancelled', reason='cancelled by its maker'")
    db.execute("DELETE FROM rechecks")
    if due:
        db.execute("INSERT INTO rechecks (order_hash) SELECT hash FROM orders")
    db.commit()
    db.close()


async def start(cfg: NodeConfig) -> dict[str, float]:
    t0 = time.perf_counter()
    async with serve(cfg):
        ready = time.perf_counter() - t0
    return {"ready_s": round(ready, 2), "recheck_s": round(TIMES[-1], 3),
            "reads_s": round(READS[0], 3), "read_calls": READS[1]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--due", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    timed_rechecks()
    timed_reads()
    runs: dict[str, list[dict[str, float]]] = {"due": [], "plain": []}
    with devnet_node("sdex-recheckstart-") as (_, signer, cfg):
        asyncio.run(start(cfg))  # (the store made, empty: its schema and identity)
        fill(cfg.db, signer.resting(args.due, list(range(nb.OPERATOR))))
        for _ in range(args.repeat):  # (alternated: A, B, A, B...)
            for side in runs:
                mark(cfg.db, side == "due")
                runs[side].append(asyncio.run(start(cfg)))
    out: dict[str, Any] = {
        "tree": str(Path(sdex.__file__).parent.parent),
        "due": args.due,
        **runs,
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
