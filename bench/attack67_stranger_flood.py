#!/usr/bin/env python3
"""The event loop's CPU for a flood of penalized strangers, each a fresh node key.

A node on a devnet, served on loopback, gets ``FLOOD`` signed ``POST /p2p/orders`` whose body
is not a JSON object, each signed by a key made for it (a stranger's key is free): each is
answered 400 and costs its sender a penalty (``Peers.penalize``), so each is a new stranger's
standing. The first ``MAX_STANDINGS`` fill the node's table of strangers' standings; past
them, each new one evicts one (main: after a walk of the whole table for a clean one, none
left). The client runs in a thread of its own (its signing is not the loop's); the figures are
the loop thread's CPU: ``fill_us`` (a message, the first ``MAX_STANDINGS``), ``past_us`` (a
message past them), ``flood_cpu_s`` (all of it). The stranger's rate limit is raised for the
flood (the loop's cost is what is measured, not the limiter's pace). This tree against the
reference (``--ref-root``), each side in a process of its own, ``--rounds`` rounds
alternated; then [median, min, max] of the rounds.

Run: PYTHONPATH=$PWD .venv/bin/python bench/attack67_stranger_flood.py --ref-root /work/main
"""

from __future__ import annotations

import sys
from pathlib import Path

import sdex  # noqa: F401  (first: bench/node.py puts its own checkout on the path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncio
import time
from dataclasses import replace

import aiohttp
from http_modes import devnet_node

from bench.benchlib import measure_args, measured_rounds, print_ab
from sdex.gossip import NodeKey
from sdex.httpkit import RateLimit
from sdex.node.main import serve

FLOOD = 20_000
"""Penalized strangers, each a fresh key."""
TABLE = 4096
"""The strangers' standings a node keeps (``MAX_STANDINGS``): the fill phase."""
CONCURRENT = 16
PATH = "/p2p/orders"


async def send(base: str, to: str, count: int) -> None:
    """``count`` penalized requests from fresh keys, ``CONCURRENT`` at a time; each 400."""
    left = iter(range(count))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for _ in left:
                key = NodeKey.generate()
                headers = key.request_headers("POST", PATH, b"[]", "http://127.0.0.1:9", to)
                headers["Content-Type"] = "application/json"
                async with session.post(base + PATH, data=b"[]", headers=headers) as r:
                    assert r.status == 400, (r.status, await r.text())

        await asyncio.gather(*(worker() for _ in range(CONCURRENT)))


async def flood(cfg_port: int, to: str) -> tuple[float, float]:
    """The loop thread's CPU (s) for the fill, then for the rest of the flood."""
    base = f"http://127.0.0.1:{cfg_port}"
    spent = []
    for count in (TABLE, FLOOD - TABLE):
        cpu = time.thread_time()
        await asyncio.to_thread(asyncio.run, send(base, to, count))
        spent.append(time.thread_time() - cpu)
    return spent[0], spent[1]


def measure() -> dict[str, float]:
    with devnet_node("sdex-a67-") as (_, _signer, cfg):
        cfg = replace(cfg, peer_rate_limit=RateLimit(rate=1e6, burst=1_000_000))

        async def run() -> tuple[float, float]:
            async with serve(cfg) as node:
                assert node.gossip is not None
                return await flood(node.config.port, node.gossip.key.node_id)

        fill, past = asyncio.run(run())
    return {
        "fill_us": round(fill / TABLE * 1e6, 1),
        "past_us": round(past / (FLOOD - TABLE) * 1e6, 1),
        "flood_cpu_s": round(fill + past, 3),
    }


def main() -> None:
    args = measure_args(__doc__ or "", 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    print_ab({"flood": FLOOD, "table": TABLE}, runs, ("fill_us", "past_us", "flood_cpu_s"))


if __name__ == "__main__":
    main()
