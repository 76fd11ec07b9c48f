#!/usr/bin/env python3
"""The event loop's CPU for anti-entropy's hash listing asked of a full node.

A node on a devnet, served on loopback, holds ``HELD`` open gossiped orders (put in its
registry by its own ``admit`` and ``announce``, each under a hash of its own: the listing
reads only the hashes). A stranger (a key the node never admitted) asks ``POST /p2p/hashes``
for all 256 buckets ``ASKS`` times, one at a time, from a thread of its own (its reading is
not the loop's). Figures: ``request_ms`` (the loop thread's CPU per request),
``answer_bytes``, ``hashes`` (listed per answer), ``tokens`` (what one costs the strangers'
shared budget at the node's rate limit; main: 1 a request) and ``strangers_loop_share``
(the loop's share the strangers' budget, 500 tokens a second at the default
``peer_rate_limit``, buys: ``request_ms`` x 500 / ``tokens`` / 1000; over 1, the loop is
saturated). The strangers' rate limit is raised for the run (the loop's cost is what is
measured, not the limiter's pace). This tree against the reference (``--ref-root``), each
side in a process of its own, ``--rounds`` rounds alternated; then [median, min, max].

Run: PYTHONPATH=$PWD .venv/bin/python bench/hashes67_listing.py --ref-root /work/main
"""

from __future__ import annotations

import sys
from pathlib import Path

import sdex  # noqa: F401  (first: bench/node.py puts its own checkout on the path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncio
import hashlib
import json
import time
from dataclasses import replace

import aiohttp
from http_modes import devnet_node

from bench.benchlib import measure_args, measured_rounds, print_ab
from sdex.gossip import NodeKey
from sdex.httpkit import RateLimit
from sdex.node.heldrecord import Record
from sdex.node.main import serve
from sdex.order import SignedOrder

HELD = 200_000
"""Open gossiped orders the node holds (``max_orders``' default)."""
ASKS = 20
"""Requests for all 256 buckets."""
STRANGERS_RATE = 500.0
"""The strangers' shared tokens a second at the default ``peer_rate_limit`` (2,000 / 4)."""


async def ask(base: str, to: str) -> tuple[int, int]:
    """``ASKS`` requests for every bucket: the last answer's bytes and hashes."""
    key = NodeKey.generate()
    body = json.dumps({"buckets": list(range(256))}).encode()
    size = listed = 0
    async with aiohttp.ClientSession() as session:
        for _ in range(ASKS):
            headers = key.request_headers("POST", "/p2p/hashes", body, "http://127.0.0.1:9", to)
            headers["Content-Type"] = "application/json"
            async with session.post(base + "/p2p/hashes", data=body, headers=headers) as r:
                raw = await r.read()
                assert r.status == 200, (r.status, raw[:200])
            size, listed = len(raw), len(json.loads(raw)["hashes"])
    return size, listed


def measure() -> dict[str, float]:
    with devnet_node("sdex-h67-") as (_, signer, cfg):
        cfg = replace(cfg, peer_rate_limit=RateLimit(rate=1e6, burst=1_000_000))
        signed = signer.order(0, True, 300_000)

        async def run() -> tuple[float, int, int]:
            async with serve(cfg) as node:
                assert node.gossip is not None
                for i in range(HELD):
                    h = hashlib.sha256(i.to_bytes(8, "big")).digest()
                    rec = Record(SignedOrder(signed.order, signed.signature, h), 10**9 + i, "b")
                    node.registry.admit(rec)
                    node.registry.announce(rec)
                base = f"http://127.0.0.1:{node.config.port}"
                cpu = time.thread_time()
                size, listed = await asyncio.to_thread(
                    asyncio.run, ask(base, node.gossip.key.node_id)
                )
                return time.thread_time() - cpu, size, listed

        spent, size, listed = asyncio.run(run())
    request_ms = spent / ASKS * 1e3
    try:  # (this tree charges by the hashes listed; a tree before, one token a request)
        from sdex.gossip.listing import LISTED_PER_TOKEN

        tokens = 1 + listed / LISTED_PER_TOKEN
    except ImportError:
        tokens = 1.0
    return {
        "request_ms": round(request_ms, 2),
        "answer_bytes": size,
        "hashes": listed,
        "tokens": round(tokens, 1),
        "strangers_loop_share": round(request_ms * STRANGERS_RATE / tokens / 1e3, 3),
    }


def main() -> None:
    args = measure_args(__doc__ or "", 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    keys = ("request_ms", "answer_bytes", "hashes", "strangers_loop_share")
    print_ab({"held": HELD, "asks": ASKS}, runs, keys)


if __name__ == "__main__":
    main()
