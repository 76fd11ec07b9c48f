#!/usr/bin/env python3
"""What the book events' tick, a ``GET /v1/depth`` snapshot and a ``GET /v1/orderbook`` page
cost the event loop on a large book: this tree against a reference tree (``--ref``, e.g.
main, its compiled book built), in the same run.

For each book size (``--sizes``) and each round, a child process per tree, in turn (the order
rotated round by round), each importing its own tree's ``sdex``: a book of one pair with
that many resting orders over 1,000 price levels (asks 1..500 ticks above the mid, bids
1..500 below, amounts with token decimals), a ``BookFeed`` with one subscriber to the pair.
Then ``--ticks`` times: one order added at a random level and one random order cancelled
(what a busy second brings between two ticks, and more), and timed:

- ``tick``: ``BookFeed._flush`` of the pair (what each 5 ms tick runs per followed pair);
- ``depth``: ``BookFeed.depth`` (``GET /v1/depth``'s work, and a subscribe's snapshot);
- ``page``: the synchronous part of ``GET /v1/orderbook?perPage=100`` (``pages.book_page``:
  each side's total and the page's orders, before the records are built): the tree's
  ``PairBook.offered`` if it has one, else the walk of every resting order as that tree's
  ``book_page`` does it (the reference's code, copied here).

Medians in microseconds, per size and tree, and the ratios ref / new. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
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
MID = 2000 * 10**6  # quote (6 decimals) per base (18): 2,000.00
TICK = 10**4  # 0.01 quote


def child(size: int, ticks: int, seed: int) -> dict[str, Any]:
    from sdex.book import OrderBook, RemovalReason, Side
    from sdex.book import native as native_
    from sdex.node.bookfeed import BookFeed
    from sdex.node.events import EventHub
    from sdex.order import ZERO_ADDRESS, Order, SignedOrder

    rng = random.Random(seed)
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    makers = ["0x" + f"{i:040x}" for i in range(1, 1001)]
    salt = iter(range(1, 10**9))

    def order() -> SignedOrder:
        is_ask = rng.random() < 0.5
        ticks_away = rng.randrange(1, 501)
        price = MID + ticks_away * TICK if is_ask else MID - ticks_away * TICK
        base = rng.randrange(1, 20) * 10**16  # 0.01 .. 0.19 base
        quote = base * price // 10**18
        s = next(salt)
        sell, buy, m, t = (BASE, QUOTE, base, quote) if is_ask else (QUOTE, BASE, quote, base)
        o = Order(rng.choice(makers), ZERO_ADDRESS, sell, buy, m, t, ZERO_ADDRESS, 0, 2**40, s)
        return SignedOrder(o, bytes(65), s.to_bytes(32, "big"))

    live = [order() for _ in range(size)]
    for so in live:
        book.add(so)
    pair = book.pair(BASE, QUOTE)

    def page(first: int, end: int) -> tuple[list[int], list[list[bytes]]]:
        totals: list[int] = []
        chosen: list[list[bytes]] = []
        for side in (Side.BID, Side.ASK):
            if hasattr(pair, "offered"):  # this tree's book_page
                total, entries, _ = pair.offered(side, first, end)
                totals.append(total)
                chosen.append([e.signed.hash for e in entries])
                continue
            total, hashes = 0, []  # the reference's book_page, as it walks
            for e in pair.entries(side):
                if e.parked or e.closed is not None or e.fillable <= 0:
                    continue
                if first <= total < end:
                    hashes.append(e.signed.hash)
                total += 1
            totals.append(total)
            chosen.append(hashes)
        return totals, chosen

    async def run() -> dict[str, Any]:
        hub = EventHub()
        feed = BookFeed(book, hub)
        sub = hub.subscribe()
        feed.subscribe(sub, (BASE, QUOTE))
        pf = feed._pairs[(BASE, QUOTE)]
        tick_us: list[float] = []
        depth_us: list[float] = []
        page_us: list[float] = []
        deltas = 0
        for _ in range(ticks):
            so = order()
            book.add(so)
            live.append(so)
            gone = live.pop(rng.randrange(len(live)))
            book.remove(gone.hash, RemovalReason.CANCELLED)
            t0 = time.perf_counter()
            feed._flush(pf)
            t1 = time.perf_counter()
            body = feed.depth(BASE, QUOTE)
            t2 = time.perf_counter()
            totals, _ = page(0, 100)
            t3 = time.perf_counter()
            tick_us.append((t1 - t0) * 1e6)
            depth_us.append((t2 - t1) * 1e6)
            page_us.append((t3 - t2) * 1e6)
            while not sub.queue.empty():  # (the socket's sender would take them)
                sub.queue.get_nowait()
                deltas += 1
        feed.stop()
        return {
            "tick_us": round(statistics.median(tick_us), 1),
            "depth_us": round(statistics.median(depth_us), 1),
            "page_us": round(statistics.median(page_us), 1),
            "levels": len(body["bids"]) + len(body["asks"]),
            "orders_offered": sum(totals),
            "events": deltas,
        }

    out = asyncio.run(run())
    out["compiled"] = native_.ACTIVE
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", type=Path, help="the reference tree (e.g. main): required")
    ap.add_argument("--sizes", default="2000,20000,100000")
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.ref is None:
        ap.error("--ref is required")
    trees = [("ref", args.ref.resolve()), ("new", ROOT)]
    keys = ("tick_us", "depth_us", "page_us")
    result: dict[str, Any] = {}
    for size in map(int, args.sizes.split(",")):
        rows: dict[str, list[dict[str, Any]]] = {n: [] for n, _ in trees}
        for r in range(args.repeat):
            for name, tree in trees[r % 2 :] + trees[: r % 2]:
                env = {**os.environ, "PYTHONPATH": str(tree)}
                env.pop("SDEX_PURE", None)
                run = subprocess.run(
                    [sys.executable, __file__, "--child", str(size), str(args.ticks), str(r)],
                    cwd=tree, env=env, capture_output=True, text=True, check=True, timeout=1800,
                )  # fmt: skip
                row = json.loads(run.stdout)
                rows[name].append(row)
                print(json.dumps({"size": size, name: row}), flush=True)
        med = {n: {k: statistics.median(x[k] for x in rs) for k in keys} for n, rs in rows.items()}
        result[str(size)] = {
            "medians_us": med,
            "ref/new": {k: round(med["ref"][k] / med["new"][k], 1) for k in keys},
            "compiled": {n: all(x["compiled"] for x in rs) for n, rs in rows.items()},
        }
    print(json.dumps({"sizes": result, "machine": os.uname().machine, "cpus": os.cpu_count()},
                     indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
