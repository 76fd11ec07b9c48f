"""Gossip's own CPU per order: N in-process gossip drivers, intake in memory, an A/B of two
``GossipConfig`` settings in alternating rounds on the same mesh.

``tests.p2putil.gossip_net``: N ``Gossip`` drivers with their routes on real aiohttp servers
on loopback, the calls on their authenticated streams; each node's intake is in memory
(``MemoryNode``: no ECDSA, no store, no chain), so what is measured is gossip: frames,
answers, the core, the event loop. Each round posts ``--rate`` orders a second for
``--seconds`` to random nodes (a wallet's order: ``MemoryNode.post``) and waits until every
node holds every order; the process's CPU over the round ÷ (orders × N) is the CPU per
order per node. All nodes share one event loop, so batching is not a real node's (a loop
turn holds every node's work): compare settings with it, not with ``bench/gossip.py``.

A: ``--a`` (default ``hint_hold=0``: as before gossip10), B: ``--b`` (default:
``GossipConfig``'s defaults), each a comma-separated list of ``GossipConfig`` fields set to
numbers. Prints JSON: per round, CPU µs per order per node, push frames (and HTTP calls),
answer frames and acknowledged copies per order per node, and the B/A ratios of CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402

from sdex.gossip import GossipConfig  # noqa: E402
from tests.p2putil import Member, gossip_net, order  # noqa: E402


def totals(members: list[Member]) -> tuple[int, int, int]:
    """(push frames and HTTP calls sent, order copies acknowledged, answer frames sent) by
    every node so far."""
    frames = sum(m.gossip.messages_sent for m in members)
    answers = sum(m.gossip.streams.answer_frames() for m in members if m.gossip.streams)
    return frames, sum(m.gossip.core.orders_sent for m in members), answers


async def one_round(
    members: list[Member], first: int, rate: float, seconds: float
) -> dict[str, float]:
    n = int(rate * seconds)
    ids = range(first, first + n)
    rng = random.Random(first)
    frames0, copies0, answers0 = totals(members)
    cpu, start = time.process_time(), time.perf_counter()
    for k, i in enumerate(ids):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        rng.choice(members).node.post(order(i))
    want = {order(i)["hash"] for i in ids}
    async with asyncio.timeout(60):
        while any(not want <= m.node.orders.keys() for m in members):
            await asyncio.sleep(0.01)
    cpu = time.process_time() - cpu
    frames1, copies1, answers1 = totals(members)
    per = n * len(members)
    return {
        "cpu_us_per_order_per_node": round(cpu / per * 1e6, 1),
        "frames_per_order_per_node": round((frames1 - frames0) / per, 3),
        "copies_per_order_per_node": round((copies1 - copies0) / per, 3),
        "answer_frames_per_order_per_node": round((answers1 - answers0) / per, 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cfgs = [GossipConfig(dial_interval=0.1) for _ in range(args.nodes)]
    out: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    defaults = {k: getattr(cfgs[0], k) for k in {**args.a, **args.b}}
    async with gossip_net(args.nodes, cfgs) as members:
        async with asyncio.timeout(30):  # the meshes graft
            while any(len(m.gossip.core.mesh) < cfgs[0].mesh_min for m in members):
                await asyncio.sleep(0.05)
        first = 10**6
        for _ in range(args.rounds):
            for side, settings in (("A", args.a), ("B", args.b)):
                for c in cfgs:  # (each node's core and driver read this very object)
                    for k, v in {**defaults, **settings}.items():
                        setattr(c, k, type(getattr(c, k))(v))
                await asyncio.sleep(0.5)  # what the last round left settles
                out[side].append(await one_round(members, first, args.rate, args.seconds))
                first += 10**5
    key = "cpu_us_per_order_per_node"
    ratios = [b[key] / a[key] for a, b in zip(out["A"], out["B"], strict=True)]
    return {"rounds": out, "cpu_ratio_B_over_A": [round(x, 3) for x in ratios],
            "median_ratio": round(statistics.median(ratios), 3)}  # fmt: skip


def settings(text: str) -> dict[str, float]:
    """``field=number,...`` -> {field: number}."""
    return {k: float(v) for k, v in (kv.split("=") for kv in text.split(",") if kv)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--rate", type=float, default=100.0, help="orders per second posted")
    ap.add_argument("--seconds", type=float, default=5.0, help="per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating A/B pairs")
    ap.add_argument("--a", type=settings, default=settings("hint_hold=0"))
    ap.add_argument("--b", type=settings, default={}, help="e.g. hint_hold=0.1")
    args = ap.parse_args()
    result = {**asyncio.run(run(args)), "machine": machine(), "args": vars(args)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
