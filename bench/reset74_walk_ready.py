#!/usr/bin/env python3
"""How long a start with a reset's re-judging due (``rejudge_due``: a chain replaced while the
node was down, or a reset a kill interrupted) keeps a node from ready, and how long its walk
of the closed orders takes, on a devnet, against the same start without it (review73's
``bench/review73_rejudge_walk.py`` set-up: ``--closed`` real signed orders stored closed
``filled``, which the devnet never filled, so the walk reopens every one).

Per start: ``ready_s`` (``serve`` until the node is ready: until then every wallet gets
503 "starting"), ``walked_s`` (until the walk is done and its marker cleared), and the
event loop's gaps between turns of a 5 ms ticker from ready until then, at least 5 s
(``gap_max_ms``, ``gap_p99_ms``: what a request waits meanwhile, past its own work; the
plain side's are the reference, the machine's own). Sides alternate: ``walk`` (marker set;
``--chunks 100,500``: one side per count of orders judged between two turns of the loop),
``plain``. Run it with each tree's ``PYTHONPATH`` (this file works on both; its
folder's modules are the tree's own) to compare old and new.

Run: PYTHONPATH=$PWD .venv/bin/python bench/reset74_walk_ready.py [--closed N] [--repeat R]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import json
import os
import time
from typing import Any

import node as nb
from http_modes import devnet_node
from loopstalls import tick_until_walked
from review73_rejudge_walk import fill, mark

import sdex
from sdex.node import rejudge
from sdex.node.config import NodeConfig
from sdex.node.main import serve


async def start(cfg: NodeConfig) -> dict[str, float]:
    t0 = time.perf_counter()
    async with serve(cfg) as node:
        ready = time.perf_counter() - t0
        # until the walk's end (bounded by 20 minutes), and at least 5 s (the reference: the
        # same ticker on a node with nothing to walk)
        walked, gaps = await tick_until_walked(node, t0, ready, 5.0, lambda now: None)
    gaps.sort()
    return {"ready_s": round(ready, 2), "walked_s": round(walked, 2),
            "gap_max_ms": round(gaps[-1] * 1000, 1),
            "gap_p99_ms": round(gaps[int(len(gaps) * 0.99)] * 1000, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--closed", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--chunks", default="", help="e.g. 100,500: a walk side per chunk size")
    args = ap.parse_args()
    chunks = [int(n) for n in args.chunks.split(",") if n]
    sides = [f"walk{n}" for n in chunks] if chunks else ["walk"]
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in [*sides, "plain"]}
    with devnet_node("sdex-walkready-") as (_, signer, cfg):
        asyncio.run(start(cfg))  # (the store made, empty: its schema and identity)
        fill(cfg.db, signer.resting(args.closed, list(range(nb.OPERATOR))))
        for _ in range(args.repeat):  # (alternated: A, B, A, B...)
            for side in runs:
                mark(cfg.db, side != "plain")
                if side != "plain" and chunks:  # (orders judged between two turns)
                    rejudge.REJUDGE_CHUNK = int(side.removeprefix("walk"))
                runs[side].append(asyncio.run(start(cfg)))
    out: dict[str, Any] = {
        "tree": str(Path(sdex.__file__).parent.parent),
        "closed_filled": args.closed,
        **runs,
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
