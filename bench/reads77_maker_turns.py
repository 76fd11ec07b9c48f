#!/usr/bin/env python3
"""One honest contract maker's verdict reads under ``Eip1271Batcher.turns``: its orders in
windows of their own, each window a read, at most ``MAKER_READS`` (2) of them at once
against the reference's 4 (the verdicts' client's connections: one maker's share before
reads77), measured in one run, the two alternated.

One Hardhat devnet, one in-process node, bench/eip1271.py's unfunded ERC1271Wallet (valid
signatures by its owner: each new order one ``getOrderStates`` read, refused for funds, not
kept). Each run posts ``--orders`` orders by ``submit_from_peer``, one every ``--gap`` ms
(past the 2 ms window: each its own read), and times each order's verdict. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402
from eip1271 import OPERATOR, PEER, Setup  # noqa: E402

from sdex.chain.arpcturns import Turns  # noqa: E402
from sdex.chain.rpc import Rpc  # noqa: E402
from sdex.devnet import Devnet, free_port  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.core import Node  # noqa: E402
from sdex.node.main import serve  # noqa: E402


async def one_run(
    node: Node, s: Setup, n: int, gap: float, per_key: int, keep: bool = False
) -> dict[str, Any]:
    """``n`` orders one every ``gap`` s, under ``Turns(per_key)`` (``keep``: the node's
    turns as they are: bench/reads78_fresh_maker.py)."""
    if not keep:
        node.contract_sigs.turns = Turns(per_key)
    orders = [o for o in s.orders(node, 2 * n, node.now() + 3600) if o.order.maker == s.unfunded]
    took: list[float] = []

    async def post(so: Any) -> str:
        t0 = time.perf_counter()
        verdict = await node.submit_from_peer(so.to_json(), PEER)
        took.append(time.perf_counter() - t0)
        return verdict

    t0 = time.perf_counter()
    tasks = []
    for so in orders[:n]:
        tasks.append(asyncio.ensure_future(post(so)))
        await asyncio.sleep(gap)
    verdicts = await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    took.sort()
    return {
        "per_key": per_key,
        "wall_s": round(wall, 3),
        "p50_ms": round(statistics.median(took) * 1e3, 2),
        "p90_ms": round(took[int(0.9 * (len(took) - 1))] * 1e3, 2),
        "waited": node.contract_sigs.turns.waited,
        "verdicts": sorted(set(verdicts)),
    }


@contextlib.asynccontextmanager
async def maker_node(n: int, pairs: int) -> AsyncIterator[tuple[Node, Setup]]:
    """One devnet with bench/eip1271.py's set-up and one in-process node caught up on it,
    room for every run's orders of the maker (bench/reads78_fresh_maker.py too)."""
    with tempfile.TemporaryDirectory() as tmp, Devnet(accounts=20) as dep:
        rpc = Rpc(dep.rpc)
        try:
            s = Setup(dep, rpc)
            cfg = NodeConfig.from_deployment(
                dep, s.keys[OPERATOR], Path(tmp) / "a.db", port=free_port()
            )
            cfg = replace(cfg, limits=replace(cfg.limits, max_orders_per_maker=10 * n * pairs))
            async with serve(cfg) as node:
                await asyncio.wait_for(node.watcher.caught_up.wait(), 60)
                yield node, s
        finally:
            rpc.close()


def report(n: int, gap: float, runs: list[dict[str, Any]], ratio: str) -> dict[str, Any]:
    """The runs, alternated reference first, and each pair's p50 ratio (``ratio``)."""
    ratios = [
        round(new["p50_ms"] / old["p50_ms"], 3)
        for old, new in zip(runs[::2], runs[1::2], strict=True)
    ]
    return {
        "machine": machine(),
        "load": os.getloadavg(),
        "orders": n,
        "gap_ms": gap * 1e3,
        "runs": runs,
        ratio: ratios,
    }


async def run(n: int, gap: float, pairs: int) -> dict[str, Any]:
    runs = []
    async with maker_node(n, pairs) as (node, s):
        await one_run(node, s, 4, gap, 4)  # (warm-up: the maker's first reads)
        for _ in range(pairs):
            for per_key in (4, 2):  # (the reference first, then this tree's)
                runs.append(await one_run(node, s, n, gap, per_key))
    return report(n, gap, runs, "p50_ratio_2_over_4")


def main(
    run: Callable[[int, float, int], Coroutine[Any, Any, dict[str, Any]]] = run,
    doc: str = __doc__,
) -> None:
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=60)
    ap.add_argument("--gap", type=float, default=3.0, help="ms between two orders")
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.orders, args.gap / 1e3, args.pairs)), indent=2))


if __name__ == "__main__":
    main()
