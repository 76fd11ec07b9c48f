"""One client asks, 8 at a time (each waiting out a 429's Retry-After), for a listing
page that reads every row to return none
(``GET /v1/orders?status=cancelled&cursor=0.2.0`` on a store of ``--rows`` filled orders:
``status`` has no index), for ``--seconds``; meanwhile another client reads a small page
by cursor every 20 ms. Pages the greedy client got (200) and was refused (429),
the listing budget it was charged, and the other client's latency (ms). A real node on a
devnet, its default listing budgets (review18). For main's figures, run a copy of this file
placed in main's bench/ (``http_modes`` puts its own checkout first on ``sys.path``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

import argparse
import asyncio
import json
import sqlite3
import statistics
import time

import aiohttp
from benchlib import machine
from http_modes import devnet_node

from sdex.node.main import serve


def filled_rows(path: Path, first: int, n: int) -> None:
    with sqlite3.connect(path, timeout=30) as db:
        db.executemany(
            "INSERT INTO orders (hash, seq, maker, maker_token, taker_token, order_json, status,"
            " source, tif, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                (f"0x{s:064x}", s, "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20,
                 "{}", "filled", "api", "gtc", 0.0, 0.0)
                for s in range(first, first + n)
            ),
        )  # fmt: skip


async def run(args: argparse.Namespace) -> dict[str, object]:
    with devnet_node("sdex-rare-") as (_, _signer, cfg):
        async with serve(cfg):
            filled_rows(cfg.db, 1_000, args.rows)
            url = f"http://{cfg.host}:{cfg.port}/v1/orders"
            seen = {"200": 0, "429": 0, "other": 0}
            remaining: list[int] = []
            latencies: list[float] = []
            why: list[str] = []
            other_status: dict[int, int] = {}
            end = time.monotonic() + args.seconds

            async def greedy(s: aiohttp.ClientSession) -> None:
                q = {"status": "cancelled", "cursor": "0.2.0"}
                while time.monotonic() < end:
                    async with s.get(url, params=q) as r:
                        await r.read()
                        key = str(r.status) if r.status in (200, 429) else "other"
                        seen[key] += 1
                        if "X-RateLimit-Remaining" in r.headers:
                            remaining.append(int(r.headers["X-RateLimit-Remaining"]))
                        wait = float(r.headers.get("Retry-After", "1"))
                        if r.status == 429 and not why:
                            why.append(f"{(await r.text())[:160]} {dict(r.headers)}")
                    if r.status == 429:  # (waited out, as a client that reads it would)
                        await asyncio.sleep(min(wait, max(0.0, end - time.monotonic())))

            async def other(s: aiohttp.ClientSession) -> None:
                q = {"perPage": "10", "cursor": f"{args.rows - 100}.2.0"}
                while time.monotonic() < end:
                    t0 = time.perf_counter()
                    async with s.get(url, params=q) as r:
                        await r.read()
                        other_status[r.status] = other_status.get(r.status, 0) + 1
                    latencies.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(0.02)  # (~40 pages a second: within its budget)

            conn = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
            async with aiohttp.ClientSession() as g, aiohttp.ClientSession(connector=conn) as o:
                await asyncio.gather(*(greedy(g) for _ in range(8)), other(o))
    latencies.sort()
    return {
        "rows": args.rows,
        "seconds": args.seconds,
        "greedy": seen,
        "first_429": why[:1],
        "greedy_200_a_second": round(seen["200"] / args.seconds, 1),
        "greedy_budget_left_min": min(remaining) if remaining else None,
        "greedy_budget_left_first": remaining[:12],
        "other_statuses": other_status,
        "other_ms": {
            "n": len(latencies),
            "p50": round(statistics.median(latencies), 2),
            "p99": round(latencies[int(len(latencies) * 0.99)], 2),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    print(json.dumps({**asyncio.run(run(args)), "machine": machine()}, indent=1))


if __name__ == "__main__":
    main()
