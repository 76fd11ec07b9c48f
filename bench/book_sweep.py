#!/usr/bin/env python3
"""What book events cost the event loop on a large book: a sweep (every followed pair
compared, ``BookFeed._ticked``, what a tick and the 1 s sweep run) and a subscribe (a walk
and a snapshot, its JSON text made; a snapshot of many levels is built in slices: its
longest single hold is given too), each a synchronous hold of the loop, timed by the
thread's CPU clock (``thread_time``: what the loop itself spends, not what other processes
take). 8 sockets follow 8 pairs each (64 subscriptions, ``MAX_BOOK_SUBSCRIPTIONS``); the
orders rest in one pair (the others empty), ``--levels`` prices a side. The reference, in the
same run: a 2,300-order book (bookev14's figure). Also what a subscribe is charged in
listed records (``bookfeed.snapshot_cost``). Real ``OrderBook``, ``EventHub`` and
``BookFeed``; synthetic orders (hashes and signatures the book never checks), funds unbounded.

Prints one JSON line: per book, the median of ``--rounds`` of each (ms), and the ratio of
the large book's to the reference's.

Run: PYTHONPATH=$PWD .venv/bin/python bench/book_sweep.py [--orders 100000] [--levels 500]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import time
from typing import Any

from sdex.book import OrderBook
from sdex.node.bookfeed import BookFeed
from sdex.node.events import EventHub
from sdex.order import ZERO_ADDRESS, Order, SignedOrder

MID = 200_000
MAKERS = ["0x" + f"{i + 1:040x}" for i in range(1000)]
TOKENS = ["0x" + f"{0xC0 + i:02x}" * 20 for i in range(5)]
PAIRS = [(TOKENS[i], TOKENS[j]) for i in range(5) for j in range(i + 1, 5)][:8]


def orders(n: int, levels: int, seed: int = 1) -> list[SignedOrder]:
    rng = random.Random(seed)
    base, quote = PAIRS[0]
    out = []
    for k in range(n):
        bid = rng.random() < 0.5
        tick = MID - rng.randint(1, levels) if bid else MID + rng.randint(1, levels)
        lots = rng.randint(1, 100)
        b, q = lots * 10**15, lots * tick * 10
        sell, buy, m, t = (quote, base, q, b) if bid else (base, quote, b, q)
        o = Order(MAKERS[k % 1000], ZERO_ADDRESS, sell, buy, m, t, ZERO_ADDRESS, 0, 2**40, k + 1)
        digest = (k * 0x9E3779B97F4A7C15F39CC0605CEDC834 + 7).to_bytes(32, "big")
        out.append(SignedOrder(o, bytes(65), digest))
    return out


async def measure(n: int, levels: int, rounds: int) -> dict[str, Any]:
    book = OrderBook(PAIRS, default_funds=None)
    for s in orders(n, levels):
        book.add(s)
    hub = EventHub()
    feed = BookFeed(book, hub)
    subscribe, longest, charged = [], [], 0.0
    holds: list[float] = []  # each slice of a snapshot built in slices (``BookFeed._build``)
    build = feed._build

    def timed_build(*args: Any) -> None:
        t = time.thread_time()
        build(*args)
        holds.append(time.thread_time() - t)

    feed._build = timed_build  # type: ignore[method-assign]
    for _ in range(rounds):
        sub = hub.subscribe()
        holds.clear()
        t = time.thread_time()
        charged = feed.subscribe(sub, PAIRS[0])
        first = time.thread_time() - t
        item = await sub.queue.get()  # (built in slices: the loop runs them)
        assert item is not None
        t = time.thread_time()
        item.text()  # (the sender makes the snapshot's text on the loop too)
        last = time.thread_time() - t
        subscribe.append(first + sum(holds) + last)
        longest.append(max([first, last, *holds]))
        feed.drop(sub)
        sub.close()
    subs = [hub.subscribe() for _ in range(8)]
    for sub in subs:
        for key in PAIRS:
            feed.subscribe(sub, key)
    sweep = []
    for _ in range(rounds):
        t = time.thread_time()
        feed._ticked()
        sweep.append(time.thread_time() - t)
    feed.stop()
    levels_now = sum(len(book.pair(*PAIRS[0]).totals(side)) for side in (0, 1))  # type: ignore[arg-type]
    return {
        "orders": n,
        "levels": levels_now,
        "sweep_ms": round(statistics.median(sweep) * 1000, 2),
        "subscribe_ms": round(statistics.median(subscribe) * 1000, 2),
        "subscribe_longest_hold_ms": round(statistics.median(longest) * 1000, 2),
        "subscribe_charged_records": round(charged),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--levels", type=int, default=500, help="prices a side")
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    gc.disable()  # (a collection's pause is not the feed's)
    ref = asyncio.run(measure(2300, 500, args.rounds))
    large = asyncio.run(measure(args.orders, args.levels, args.rounds))
    out: dict[str, Any] = {"large": large, "reference": ref}
    for k in ("sweep_ms", "subscribe_ms"):
        out[f"{k}_ratio"] = round(large[k] / ref[k], 1) if ref[k] else None
    out["loadavg"] = os.getloadavg()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
