#!/usr/bin/env python3
"""What reads78's verdict turns cost an honest contract maker without a record (no funded
open order here: each order refused for funds, so it never gets one; the worst case): its
reads one at a time (``NEW_MAKER_READS``) against reads77's 2 (``MAKER_READS`` for every
maker), alternated in one run.

bench/reads77_maker_turns.py's set-up: one Hardhat devnet, one in-process node,
bench/eip1271.py's unfunded ERC1271Wallet; ``--orders`` orders by ``submit_from_peer``, one
every ``--gap`` ms (each its own window, its own read), each verdict timed. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402
from eip1271 import OPERATOR, Setup  # noqa: E402
from reads77_maker_turns import one_run  # noqa: E402

from sdex.chain.arpcturns import Turns  # noqa: E402
from sdex.chain.rpc import Rpc  # noqa: E402
from sdex.devnet import Devnet, free_port  # noqa: E402
from sdex.ingest.readturns import MAKER_READS  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402


async def run(n: int, gap: float, pairs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, Devnet(accounts=20) as dep:
        rpc = Rpc(dep.rpc)
        try:
            s = Setup(dep, rpc)
            cfg = NodeConfig.from_deployment(
                dep, s.keys[OPERATOR], Path(tmp) / "a.db", port=free_port()
            )
            cfg = replace(cfg, limits=replace(cfg.limits, max_orders_per_maker=10 * n * pairs))
            runs = []
            async with serve(cfg) as node:
                await asyncio.wait_for(node.watcher.caught_up.wait(), 60)
                sigs = node.contract_sigs
                policies = {
                    "reads77": lambda: Turns(MAKER_READS),
                    "reads78": lambda: Turns(MAKER_READS, sigs.keys.limit),
                }
                await one_run(node, s, 4, gap, MAKER_READS)  # (warm-up: the first reads)
                for _ in range(pairs):
                    for name, turns in policies.items():  # (the reference first)
                        sigs.turns = turns()
                        got = await one_run(node, s, n, gap, MAKER_READS, keep=True)
                        runs.append({"policy": name, **got})
        finally:
            rpc.close()
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
        "p50_ratio_78_over_77": ratios,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=60)
    ap.add_argument("--gap", type=float, default=3.0, help="ms between two orders")
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.orders, args.gap / 1e3, args.pairs)), indent=2))


if __name__ == "__main__":
    main()
