#!/usr/bin/env python3
"""What ``bench/gossip.py``'s poster costs the machine: its CPU a POST with aiohttp's client
and with ``bench/rawpost.py``, alternated in the same minutes (``--rounds``), against the
same servers (``bench/trivial_server.py``, one process each, ``--servers``), posting with
``gossip.post_paced`` at ``--rate`` for ``--orders`` orders, ``--concurrency`` in flight.

On 2 cores this CPU is taken from the nodes the benchmark measures. Prints JSON: per round
and client the poster's CPU µs a POST (``time.process_time``: the whole process), the rate
accepted, orders not posted, and the POST latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import gossip  # noqa: E402
from rawpost import RawPoster  # noqa: E402

from sdex.devnet import free_port  # noqa: E402


def order_body(i: int) -> bytes:
    """A body the size of a signed order's JSON (~700 bytes); the trivial server reads it."""
    fields = {"maker": "0x" + "11" * 20, "salt": str(i), "signature": "0x" + "ab" * 65}
    return json.dumps({**fields, "pad": "x" * 420}).encode()


async def one(urls: list[str], client: str, args: argparse.Namespace) -> dict[str, Any]:
    orders = [(f"h{i}", order_body(i)) for i in range(args.orders)]
    targets = [i % len(urls) for i in range(args.orders)]
    conn = aiohttp.TCPConnector(limit=args.concurrency + 8, limit_per_host=0)
    raw = RawPoster() if client == "raw" else None
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as s:
        warm = min(500, args.orders)
        await gossip.post_paced(s, urls, orders[:warm], targets[:warm], 500.0, 64, raw)
        p = await gossip.post_paced(s, urls, orders, targets, args.rate, args.concurrency, raw)
    if raw is not None:
        raw.close()
    posted = max(1, len(p["sent"]))
    return {
        "client": client,
        "cpu_us_per_post": round(1e6 * p["poster_cpu_s"] / posted, 1),
        "cores": round(p["poster_cpu_s"] / p["posting_seconds"], 3),
        "accepted_per_s": round(p["achieved_rate"], 1),
        "not_posted": p["not_posted"],
        "not_201": p["not_201"],
        "post_latency_ms": gossip.summary(p["post_latency"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--orders", type=int, default=8000)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ports = [free_port() for _ in range(args.servers)]
    cmd = [sys.executable, str(ROOT / "bench" / "trivial_server.py")]
    procs = [subprocess.Popen([*cmd, str(p)]) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    runs: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 30
        for u in urls:  # each server up before the first round
            while True:
                try:
                    asyncio.run(ping(u))
                    break
                except (aiohttp.ClientError, OSError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        for k in range(args.rounds):
            order = ["aiohttp", "raw"] if k % 2 == 0 else ["raw", "aiohttp"]
            for client in order:
                runs.append({"round": k + 1, **asyncio.run(one(urls, client, args))})
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    ratios = [
        round(r["cpu_us_per_post"] / a["cpu_us_per_post"], 3)
        for r in runs
        if r["client"] == "raw"
        for a in runs
        if a["client"] == "aiohttp" and a["round"] == r["round"]
    ]
    print(json.dumps({"args": vars(args), "runs": runs, "raw_over_aiohttp_cpu": ratios}, indent=2))


async def ping(url: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(url + "/") as r:
        await r.read()


if __name__ == "__main__":
    main()
