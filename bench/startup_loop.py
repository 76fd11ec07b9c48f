#!/usr/bin/env python3
"""How long a node's start blocks its event loop on a large store, on a devnet.

The store is filled directly (SQLite, the node's schema): ``--closed`` closed orders (only
their hashes are read at start: the registry's filter) and ``--open`` open ones (real signed
orders from 19 makers, read and parsed at start, then judged by one batched chain read).
Then the node starts (``serve``) while a task on the same loop wakes every 5 ms: the
longest time it waited past its wake-up is the longest stretch the loop was blocked, and the
sum of stretches over 50 ms the blocked total. The store's start reads are then timed one by
one on the started node. Nothing is served while a node starts (its port opens after
``Node.start``): what a blocked stretch delays is only that start. Prints one JSON line.

Run: PYTHONPATH=$PWD .venv/bin/python bench/startup_loop.py [--closed N] [--open N]
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

from sdex.model import OPEN_STATUSES
from sdex.node.config import NodeConfig
from sdex.node.main import serve

TICK = 0.005


async def watch_loop(stalls: list[float]) -> None:
    while True:
        t = time.perf_counter()
        await asyncio.sleep(TICK)
        stalls.append(time.perf_counter() - t - TICK)


def fill(db_path: Path, closed: int, opened: list[Any]) -> None:
    db = sqlite3.connect(db_path)
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()[0]
    cols = "hash, seq, maker, maker_token, taker_token, order_json, status, source, created_at,"
    cols += " updated_at, taker"
    rows: list[tuple[object, ...]] = []
    for _ in range(closed):
        seq += 1
        h = f"0x{seq:064x}"
        rows.append((h, seq, "0xaa", "t", "q", "{}", "cancelled", "api", 0.0, 0.0, None))
    for s in opened:
        seq += 1
        o = s.order
        text = json.dumps(s.to_json(), separators=(",", ":"))
        h = s.hash_hex.lower()
        rows.append((h, seq, o.maker, o.maker_token, o.taker_token, text, "open", "api", 0.0, 0.0,
                     o.taker.lower()))  # fmt: skip
    db.executemany(f"INSERT INTO orders ({cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


async def measure(cfg: NodeConfig) -> dict[str, Any]:
    stalls: list[float] = []
    watcher = asyncio.create_task(watch_loop(stalls))
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    async with serve(cfg) as node:
        start = time.perf_counter() - t0
        watcher.cancel()
        store = node.store
        reads: dict[str, float] = {}
        for name, call in (
            ("last_seq", store.last_seq),
            ("orders_open", lambda: list(store.orders(OPEN_STATUSES, skipped=[]))),
            ("count_closed", lambda: store.count_except(OPEN_STATUSES)),
            ("hashes_closed", lambda: list(store.hashes_except(OPEN_STATUSES))),
            ("pending_settlements", store.pending_settlements),
        ):
            t = time.perf_counter()
            call()
            reads[name] = round(time.perf_counter() - t, 3)
        held = len(node.registry.records)
    return {
        "start_s": round(start, 2),
        "longest_block_s": round(max(stalls), 3),
        "blocked_over_50ms_s": round(sum(s for s in stalls if s > 0.05), 2),
        "store_reads_s": reads,
        "records_held": held,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--closed", type=int, default=100_000)
    ap.add_argument("--open", type=int, default=10_000)
    args = ap.parse_args()
    with devnet_node("sdex-startup-") as (_, signer, cfg):
        asyncio.run(measure(cfg))  # (the store made, empty: its schema and identity)
        opened = signer.resting(args.open, list(range(nb.OPERATOR)))
        fill(cfg.db, args.closed, opened)
        out = asyncio.run(measure(cfg))
    out.update(closed=args.closed, open=args.open, loadavg=os.getloadavg())
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
