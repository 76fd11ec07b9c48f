#!/usr/bin/env python3
"""Another client's latency while the web page's ``GET /web/orders`` asks for 50 evicted
orders at a time: the earlier handler's work (each order read from the reader connection
and parsed on the event loop, ``Node.record_json``, then one ``json.dumps``; run in this
process on the node's loop, as the handler ran it) against the route now (over HTTP: rows
read in a worker thread, ``StoreReads.order_rows_of``), and neither (the floor).

A devnet and a node in this process; ``--orders`` orders posted, then closed and evicted
from memory (stored only). Per round and mode (the order turned every other round): a
client asks ``GET /health`` one after another while ``--pages`` lookups of 50 of those
orders run back to back (two at once, as two browser tabs would); its latencies and the
event loop's longest hold (a 1 ms ticker's worst lateness) are kept. Prints one JSON line:
per mode, the other client's p50/p99/max (ms) and the loop's longest hold.

Run: PYTHONPATH=$PWD .venv/bin/python bench/web_orders_hold.py [--orders 500] [--rounds 6]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import node as nb
from benchlib import machine
from http_modes import devnet_node

from sdex.book import RemovalReason
from sdex.httpkit import RateLimit
from sdex.jsonio import dumps_bytes
from sdex.node.core import Node
from sdex.node.main import serve

LOOKUP = 50
TICK = 0.001


def before(node: Node, hashes: list[str]) -> Callable[[], Awaitable[object]]:
    """The earlier handler's work, on the loop: ``record_json`` of each (a store read and a
    parse each), then one ``json.dumps``."""

    async def work() -> object:
        picked = random.sample(hashes, LOOKUP)
        out = {h: node.record_json(bytes.fromhex(h[2:])) for h in picked}
        return dumps_bytes(out)

    return work


def after(s: aiohttp.ClientSession, url: str, hashes: list[str]) -> Callable[[], Awaitable[object]]:
    async def work() -> object:
        params = [("hash", h) for h in random.sample(hashes, LOOKUP)]
        async with s.get(url + "/web/orders", params=params) as r:
            assert r.status == 200, r.status
            return await r.read()

    return work


async def measure(
    s: aiohttp.ClientSession, url: str, work: Callable[[], Awaitable[object]] | None, pages: int
) -> tuple[list[float], float]:
    """The other client's /health latencies (ms) while ``pages`` lookups run (two at a time)
    or, without ``work``, for as many requests; and the loop's longest hold (ms)."""
    done = False
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        while not done:
            t = time.perf_counter()
            await asyncio.sleep(TICK)
            worst = max(worst, time.perf_counter() - t - TICK)

    async def other() -> list[float]:
        out = []
        while not done:
            t = time.perf_counter()
            async with s.get(url + "/health") as r:
                await r.read()
            out.append((time.perf_counter() - t) * 1000)
        return out

    async def load() -> None:
        if work is None:
            await asyncio.sleep(pages * 0.005)
            return

        async def lane(n: int) -> None:
            for _ in range(n):
                await work()
                await asyncio.sleep(0)  # (the earlier handler's answer was written here)

        await asyncio.gather(lane(pages // 2), lane(pages - pages // 2))

    tick = asyncio.create_task(ticker())
    client = asyncio.create_task(other())
    await load()
    done = True
    await tick
    return await client, worst * 1000


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with devnet_node("sdex-webhold-") as (_, signer, cfg):
        unbounded = RateLimit(rate=1e9, burst=10**9)
        cfg = replace(
            cfg, listing_rate_limit=unbounded, listing_total_rate=unbounded, closed_grace=0.1
        )
        async with serve(cfg) as node, aiohttp.ClientSession() as s:
            url = f"http://{cfg.host}:{cfg.port}"
            orders = signer.resting(args.orders, list(range(nb.OPERATOR)))
            posted = await nb.post_all(s, url + "/v1/orders", [nb.body(o) for o in orders], 8)
            assert posted["posted"] == len(orders), posted
            for o in orders:
                node.registry.remove(o.hash, RemovalReason.CANCELLED, "bench")
            deadline = time.monotonic() + 120
            while any(o.hash in node.records for o in orders):
                assert time.monotonic() < deadline, "orders not evicted"
                await asyncio.sleep(0.1)
            hashes = [o.hash_hex for o in orders]
            modes: dict[str, Callable[[], Awaitable[object]] | None] = {
                "floor": None,
                "before": before(node, hashes),
                "after": after(s, url, hashes),
            }
            lat: dict[str, list[float]] = {m: [] for m in modes}
            holds: dict[str, list[float]] = {m: [] for m in modes}
            for r in range(args.rounds):
                for mode in list(modes) if r % 2 == 0 else list(modes)[::-1]:
                    got, hold = await measure(s, url, modes[mode], args.pages)
                    lat[mode] += got
                    holds[mode].append(hold)
    out: dict[str, Any] = {"orders_evicted": args.orders, "rounds": args.rounds}
    for mode, values in lat.items():
        values.sort()
        out[mode] = {
            "other_client_requests": len(values),
            "other_client_p50_ms": round(statistics.median(values), 2),
            "other_client_p99_ms": round(values[int(len(values) * 0.99)], 2),
            "other_client_max_ms": round(values[-1], 2),
            "loop_hold_max_ms": round(max(holds[mode]), 2),
            "loop_hold_p50_ms": round(statistics.median(holds[mode]), 2),
        }
    out["p50_ratio_before_after"] = round(
        out["before"]["other_client_p50_ms"] / out["after"]["other_client_p50_ms"], 2
    )
    out["machine"] = machine()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--pages", type=int, default=40)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
