#!/usr/bin/env python3
"""What a ``GET /v1/orderbook`` page deep inside one deep level costs (``PairBook.offered``):
this tree against a reference tree (``--ref``, e.g. main, its compiled book built), in the
same run.

For each level depth (``--sizes``) and each round, a child process per tree, in turn (the
order rotated round by round), each importing its own tree's ``sdex``: one pair whose asks
all rest at one price (that many orders, amounts with token decimals), a tenth of them
cancelled at random (dead slots in the level's queue). Then ``--reads`` times: one order
cancelled at random and one added (the level keeps changing between reads), then timed:
``offered`` of a page of 100 in the middle of the level (``mid``), and the same page again
with no change between (``again``: what a client scrolling a quiet level pays).

Medians in microseconds, per size and tree, and the ratios ref / new. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE = "0x" + "ba" * 20
QUOTE = "0x" + "90" * 20
PAGE = 100


def child(size: int, reads: int, seed: int) -> dict[str, Any]:
    from sdex.book import OrderBook, RemovalReason, Side
    from sdex.book import native as native_
    from sdex.order import ZERO_ADDRESS, Order, SignedOrder

    rng = random.Random(seed)
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    makers = ["0x" + f"{i:040x}" for i in range(1, 1001)]
    salt = iter(range(1, 10**9))

    def order() -> SignedOrder:
        base = rng.randrange(1, 20) * 10**16
        o = Order(
            rng.choice(makers), ZERO_ADDRESS, BASE, QUOTE, base, base * 2000 // 10**12,
            ZERO_ADDRESS, 0, 2**40, next(salt),
        )  # fmt: skip
        return SignedOrder(o, bytes(65), next(salt).to_bytes(32, "big"))

    live = [order() for _ in range(size)]
    for o in live:
        book.add(o)

    def cancel() -> None:
        i = rng.randrange(len(live))
        live[i], live[-1] = live[-1], live[i]
        book.remove(live.pop().hash, RemovalReason.CANCELLED)

    for _ in range(size // 10):
        cancel()
    pair = book.pair(BASE, QUOTE)
    clock = time.perf_counter
    mid: list[float] = []
    again: list[float] = []
    for _ in range(reads):
        cancel()
        o = order()
        book.add(o)
        live.append(o)
        first = len(live) // 2
        t = clock()
        total, page, _ = pair.offered(Side.ASK, first, first + PAGE)
        mid.append(clock() - t)
        t = clock()
        pair.offered(Side.ASK, first, first + PAGE)
        again.append(clock() - t)
        assert total == len(live) and len(page) == PAGE
    return {
        "size": size,
        "compiled": native_.ACTIVE,
        "mid_us": round(statistics.median(mid) * 1e6, 1),
        "again_us": round(statistics.median(again) * 1e6, 1),
    }


def run_child(tree: Path, size: int, reads: int, seed: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "SDEX_PURE"}
    env["PYTHONPATH"] = str(tree)
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            str(size),
            str(reads),
            str(seed),
        ],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return dict(json.loads(out.stdout))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", type=Path, help="the reference tree (e.g. main): required")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--reads", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.ref is None:
        ap.error("--ref is required")
    trees = {"new": ROOT, "ref": args.ref.resolve()}
    result: dict[str, Any] = {"load_average_1min": [round(os.getloadavg()[0], 2)], "sizes": []}
    for size in (int(s) for s in args.sizes.split(",")):
        runs: dict[str, list[dict[str, Any]]] = {"new": [], "ref": []}
        for r in range(args.repeat):
            names = ["new", "ref"] if r % 2 == 0 else ["ref", "new"]
            for name in names:
                runs[name].append(run_child(trees[name], size, args.reads, r + 1))
        row: dict[str, Any] = {"size": size}
        for name in ("ref", "new"):
            for key in ("mid_us", "again_us"):
                row[f"{key}_{name}"] = statistics.median(x[key] for x in runs[name])
            row[f"compiled_{name}"] = all(x["compiled"] for x in runs[name])
        for key in ("mid_us", "again_us"):
            row[f"{key}_ref_over_new"] = round(row[f"{key}_ref"] / row[f"{key}_new"], 2)
        result["sizes"].append(row)
    result["load_average_1min"].append(round(os.getloadavg()[0], 2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
