#!/usr/bin/env python3
"""How long one large listing page holds a node's event loop: built in one go (the earlier
handlers' work: records as dicts, one ``json.dumps``) against built in the listing lane's
slices (``sdex.node.pages``, over HTTP), alternated on one node in one process.

A devnet and a node in this process; ``--orders`` resting orders posted (asks and bids of 19
makers). Then, ``--rounds`` times, each mode in turn (the order reversed every other round)
reads ``GET /v1/orders?perPage=1000`` and ``/v1/orderbook?perPage=1000`` while a task on the
same loop wakes every 1 ms: the longest it waited past its wake-up during a page is the
page's longest hold of the loop (``sliced_health``, a ``GET /health`` timed the same way, is
the floor: what the machine's other processes add), and the most CPU the loop's own thread
spent between two ticks (``hold_cpu``: the hold without the time other processes took the
core). Prints one JSON line: per mode and route, the median and largest of both (ms) and
the median CPU of a page (ms, this process's).

Run: PYTHONPATH=$PWD .venv/bin/python bench/listing_hold.py [--orders 1200] [--rounds 7]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import node as nb
from http_modes import devnet_node

from sdex.httpkit import RateLimit
from sdex.jsonio import dumps_bytes
from sdex.node.core import Node
from sdex.node.main import serve

TICK = 0.001


async def timed(work: Callable[[], Awaitable[object]]) -> tuple[float, float, float]:
    """``work``'s longest hold of the loop: a 1 ms ticker's worst lateness (wall clock), and
    the most CPU the loop's thread used between two ticks (``thread_time``: what the loop
    itself spent, without the time the machine's other processes took the core); and the
    process's CPU for the work."""
    worst = worst_cpu = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst, worst_cpu
        while not done:
            t, c = time.perf_counter(), time.thread_time()
            await asyncio.sleep(TICK)
            worst = max(worst, time.perf_counter() - t - TICK)
            worst_cpu = max(worst_cpu, time.thread_time() - c)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(TICK * 3)
    worst = worst_cpu = 0.0
    cpu = time.process_time()
    await work()
    cpu = time.process_time() - cpu
    done = True
    await tick
    return worst * 1000, worst_cpu * 1000, cpu * 1000


def one_go(node: Node, base: str, quote: str) -> dict[str, Callable[[], Awaitable[object]]]:
    """The earlier handlers' work: the page's records as dicts, then one ``json.dumps``."""

    async def orders() -> object:
        total, rows = await node.store.query_orders({}, 1, 1000)
        records = [r for r in (node.stored_json(s) for s in rows) if r]
        return dumps_bytes({"total": total, "page": 1, "perPage": 1000, "records": records})

    async def book() -> object:
        return dumps_bytes(node.orderbook(base, quote, 1, 1000))

    return {"orders": orders, "orderbook": book}


def sliced(s: aiohttp.ClientSession, url: str, base: str, quote: str) -> dict[str, Any]:
    async def get(path: str) -> object:
        async with s.get(url + path) as r:
            assert r.status == 200, r.status
            return await r.read()

    book = f"/v1/orderbook?baseToken={base}&quoteToken={quote}&perPage=1000"
    return {
        "orders": lambda: get("/v1/orders?perPage=1000"),
        "orderbook": lambda: get(book),
        "health": lambda: get("/health"),  # (the floor: a small answer, the machine's noise)
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with devnet_node("sdex-hold-") as (_, signer, cfg):
        unbounded = RateLimit(rate=1e9, burst=10**9)  # (the hold is measured, not the budgets)
        cfg = replace(cfg, listing_rate_limit=unbounded, listing_total_rate=unbounded)
        async with serve(cfg) as node, aiohttp.ClientSession() as s:
            url = f"http://{cfg.host}:{cfg.port}"
            bodies = [nb.body(o) for o in signer.resting(args.orders, list(range(nb.OPERATOR)))]
            done = await nb.post_all(s, url + "/v1/orders", bodies, 8)
            assert done["posted"] == len(bodies), done
            base, quote = signer.weth, signer.usdc
            modes = {"one_go": one_go(node, base, quote), "sliced": sliced(s, url, base, quote)}
            holds: dict[str, list[float]] = {}
            loop_cpu: dict[str, list[float]] = {}
            cpus: dict[str, list[float]] = {}
            for r in range(args.rounds):
                for mode in list(modes) if r % 2 == 0 else list(modes)[::-1]:
                    for route, work in modes[mode].items():
                        hold, hold_cpu, cpu = await timed(work)
                        holds.setdefault(f"{mode}_{route}", []).append(hold)
                        loop_cpu.setdefault(f"{mode}_{route}", []).append(hold_cpu)
                        cpus.setdefault(f"{mode}_{route}", []).append(cpu)
    out: dict[str, Any] = {"orders": args.orders, "rounds": args.rounds}
    for key, values in holds.items():
        out[key] = {
            "hold_p50_ms": round(statistics.median(values), 2),
            "hold_max_ms": round(max(values), 2),
            "hold_cpu_p50_ms": round(statistics.median(loop_cpu[key]), 2),
            "hold_cpu_max_ms": round(max(loop_cpu[key]), 2),
            "cpu_p50_ms": round(statistics.median(cpus[key]), 2),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=1200)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
