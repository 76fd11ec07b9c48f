#!/usr/bin/env python3
"""How long a start's re-judging of every stored order after a reset (reset70's
``rejudge_due``: a chain replaced while the node was down, or a reset a kill interrupted)
holds a node from ready, on a devnet, against the same start without it.

The store is filled directly (SQLite, the node's schema) with ``--closed`` real signed orders
closed ``filled`` (the chain's close: the walk reads each back, 500 a page, and the chain's
state of each page's orders). Then the node starts (``serve``: until ``Node.load`` ends it is
not ready) alternately with the store's ``rejudge_due`` marker set (A: the walk) and without
(B), ``--repeat`` times each. Prints one JSON line: each side's start seconds, and A/B.

Run: PYTHONPATH=$PWD .venv/bin/python bench/review73_rejudge_walk.py [--closed N]
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
import statistics
import time
from typing import Any

import node as nb
from http_modes import devnet_node

from sdex.node.config import NodeConfig
from sdex.node.main import serve
from sdex.order import SignedOrder


def fill(db_path: Path, closed: list[SignedOrder]) -> None:
    db = sqlite3.connect(db_path)
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()[0]
    cols = "hash, seq, maker, maker_token, taker_token, order_json, status, reason, filled,"
    cols += " source, created_at, updated_at, taker"
    rows: list[tuple[object, ...]] = []
    for s in closed:
        seq += 1
        o = s.order
        text = json.dumps(s.to_json(), separators=(",", ":"))
        rows.append((s.hash_hex.lower(), seq, o.maker, o.maker_token, o.taker_token, text,
                     "filled", "filled", str(o.maker_amount), "api", 0.0, 0.0,
                     o.taker.lower()))  # fmt: skip
    db.executemany(f"INSERT INTO orders ({cols}) VALUES ({','.join('?' * 13)})", rows)
    db.commit()
    db.close()


def mark(db_path: Path, due: bool) -> None:
    """Every order closed ``filled`` again (the walk reopens them: the new chain never filled
    them), the marker set or not."""
    db = sqlite3.connect(db_path)
    db.execute("UPDATE orders SET status='filled', reason='filled'")  # (as filled: same start)
    if due:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('rejudge_due', '1')")
    else:
        db.execute("DELETE FROM meta WHERE key='rejudge_due'")
    db.commit()
    db.close()


async def start(cfg: NodeConfig) -> float:
    t0 = time.perf_counter()
    async with serve(cfg) as node:
        took = time.perf_counter() - t0
        assert not node.store.rejudge_due
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--closed", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with devnet_node("sdex-rejudge-") as (_, signer, cfg):
        asyncio.run(start(cfg))  # (the store made, empty: its schema and identity)
        fill(cfg.db, signer.resting(args.closed, list(range(nb.OPERATOR))))
        times: dict[str, list[float]] = {"walk": [], "plain": []}
        for _ in range(args.repeat):  # (alternated: A, B, A, B...)
            for side in ("walk", "plain"):
                mark(cfg.db, side == "walk")
                times[side].append(round(asyncio.run(start(cfg)), 2))
    walk, plain = statistics.median(times["walk"]), statistics.median(times["plain"])
    out: dict[str, Any] = {
        "closed_filled": args.closed,
        "start_s_walk": times["walk"],
        "start_s_plain": times["plain"],
        "walk_over_plain": round(walk / plain, 2),
        "walk_extra_s_per_10k": round((walk - plain) / args.closed * 10_000, 2),
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
