#!/usr/bin/env python3
"""The event loop's share one admitted peer's large answers take of a full node: hash
listings (``POST /p2p/hashes``, all 256 buckets) and fetches (``POST /p2p/fetch`` naming
``FETCHED`` open orders).

A node on a devnet, served on loopback, holds ``HELD`` open gossiped orders (put in its
registry by its own ``admit`` and ``announce``, each under a hash of its own). A key the
node admitted (put in its peer table) asks one kind ``PACE`` times a second (above the ~15
full listings a second its request budget bought on main, so each tree's own bound binds;
a 429 is waited out at the same pace), from a thread of its own (its reading is not the
loop's), for ``SECONDS`` after a first ``WARM`` seconds that spend its burst; then a fresh
admitted key the other kind. Figures a kind: ``*_loop_share`` (the loop thread's CPU over
the window's wall time: the node does nothing else; the requests' own signatures, ~1 ms
each, included), ``listed_full_per_s`` (hashes listed a second of the window, in full listings of
``MAX_LISTED``), ``fetched_per_s`` (orders answered a second), ``*_refused_per_s`` (429s).
The node's defaults (``peer_rate_limit`` 2,000 tokens a second, bursts of 4,000;
``ae_interval`` 1 s). This tree against the reference (``--ref-root``), each side in a
process of its own, ``--rounds`` rounds alternated; then [median, min, max].

Run: PYTHONPATH=$PWD .venv/bin/python bench/gossip69_peer_answers.py --ref-root /work/main
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
from typing import Any

import aiohttp
from http_modes import devnet_node

from bench.benchlib import measure_args, measured_rounds, print_ab
from sdex.gossip import NodeKey
from sdex.gossip.listing import MAX_LISTED
from sdex.node.heldrecord import Record
from sdex.node.main import serve
from sdex.order import SignedOrder

HELD = 200_000
"""Open gossiped orders the node holds (``max_orders``' default)."""
FETCHED = 5_000
"""Open orders a fetch names (``routes.MAX_HASHES``)."""
PACE = 25.0
"""Requests the peer sends a second."""
WARM = 3.0
"""Seconds first asked at the pace, not counted (the peer's burst spent)."""
SECONDS = 8.0
"""Seconds measured."""


async def ask(
    base: str, to: str, path: str, body: bytes, answered: str, window: list[float]
) -> dict[str, float]:
    """``path`` asked at ``PACE`` for ``WARM`` + ``SECONDS`` by a fresh key (admitted by the
    caller: ``window[0]`` its id until the window opens); the ``answered`` list's items
    answered in the window, and the 429s."""
    key = NodeKey.generate()
    window.append(key.node_id)  # (the caller admits it)
    while len(window) < 2:
        await asyncio.sleep(0.005)
    got = refused = 0
    start = time.monotonic()
    async with aiohttp.ClientSession() as session:
        i = 0
        while True:
            due = start + i / PACE
            i += 1
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            if due - start >= WARM + SECONDS:
                break
            headers = key.request_headers("POST", path, body, "http://127.0.0.1:9", to)
            headers["Content-Type"] = "application/json"
            async with session.post(base + path, data=body, headers=headers) as r:
                raw = await r.read()
            if due - start < WARM:
                continue
            if len(window) < 3:
                window.append(due)  # (the loop's CPU is read from here: ``run``)
            if r.status == 429:
                refused += 1
                continue
            assert r.status == 200, (r.status, raw[:200])
            got += len(json.loads(raw)[answered])
    return {"answered": got, "refused": refused}


async def one_kind(node: Any, path: str, body: bytes, answered: str) -> dict[str, float]:
    """One kind asked by a fresh admitted peer: the loop's share and what was answered."""
    gossip = node.gossip
    base = f"http://127.0.0.1:{node.config.port}"
    window: list[Any] = []
    asking = asyncio.create_task(
        asyncio.to_thread(asyncio.run, ask(base, gossip.key.node_id, path, body, answered, window))
    )
    while not window:
        await asyncio.sleep(0.005)
    assert gossip.peers.admit(window[0], "http://127.0.0.1:9") is not None
    window.append("admitted")
    while len(window) < 3:
        await asyncio.sleep(0.005)
    cpu, wall = time.thread_time(), time.monotonic()
    got = await asking
    cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
    gossip.peers._drop(window[0])  # (one peer at a time)
    return {"share": cpu / wall, "wall": wall, **got}


def measure() -> dict[str, float]:
    with devnet_node("sdex-g69-") as (_, signer, cfg):
        signed = signer.order(0, True, 300_000)

        async def run() -> tuple[dict[str, float], dict[str, float]]:
            async with serve(cfg) as node:
                hashes = []
                for i in range(HELD):
                    h = hashlib.sha256(i.to_bytes(8, "big")).digest()
                    rec = Record(SignedOrder(signed.order, signed.signature, h), 10**9 + i, "b")
                    node.registry.admit(rec)
                    node.registry.announce(rec)
                    hashes.append("0x" + h.hex())
                listing = json.dumps({"buckets": list(range(256))}).encode()
                fetch = json.dumps({"hashes": hashes[:FETCHED]}).encode()
                listed = await one_kind(node, "/p2p/hashes", listing, "hashes")
                fetched = await one_kind(node, "/p2p/fetch", fetch, "orders")
                return listed, fetched

        listed, fetched = asyncio.run(run())
    return {
        "listing_loop_share": round(listed["share"], 3),
        "listed_full_per_s": round(listed["answered"] / listed["wall"] / MAX_LISTED, 2),
        "listing_refused_per_s": round(listed["refused"] / listed["wall"], 1),
        "fetch_loop_share": round(fetched["share"], 3),
        "fetched_per_s": round(fetched["answered"] / fetched["wall"]),
        "fetch_refused_per_s": round(fetched["refused"] / fetched["wall"], 1),
    }


def main() -> None:
    args = measure_args(__doc__ or "", 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    keys = ("listing_loop_share", "listed_full_per_s", "fetch_loop_share", "fetched_per_s")
    print_ab({"held": HELD, "fetched": FETCHED, "pace": PACE, "seconds": SECONDS}, runs, keys)


if __name__ == "__main__":
    main()
