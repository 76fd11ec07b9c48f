#!/usr/bin/env python3
"""Whether the long loop turns after a start with many orders due a recheck are the garbage
collector's: recheck80's bench (``bench/recheck80_block_turns.py``: ``--orders`` real signed
orders stored closed ``filled``, every one due a recheck, then ``--blocks`` blocks mined one
at a time) with every collection timed (``gc.callbacks``). Reported beside recheck80's
figures: each collection of 20 ms or more (its generation, wall ms, and the block being
waited for when it ran) and the node's garbage-collector policy (``SDEX_GC_FREEZE``: the
heap frozen after the start's load, ``sdex.node.gcfreeze``). Run it with the tree to measure
on ``PYTHONPATH`` (old and new alternated by the caller, each its own devnet).

Run: PYTHONPATH=$PWD .venv/bin/python bench/recheck83_gc_turns.py [--orders N] [--blocks B]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import gc
import json
import os
import time
from typing import Any

import node as nb
import recheck80_block_turns as rb
from http_modes import devnet_node
from replay80_recheck_turns import mark
from review73_rejudge_walk import fill

import sdex

PAUSES: list[dict[str, Any]] = []
_began: list[float] = [0.0]


def timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _began[0] = time.perf_counter()
        return
    took = time.perf_counter() - _began[0]
    if took >= 0.02:
        PAUSES.append(
            {
                "gen": info["generation"],
                "ms": round(took * 1000, 1),
                "collected": info["collected"],
                "block": len(rb.PERSISTS_SEEN),
            }
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=50_000)
    ap.add_argument("--blocks", type=int, default=4)
    args = ap.parse_args()
    rb.PERSISTS_SEEN = []  # type: ignore[attr-defined]
    mined = rb.Rpc.call

    def counting(self: Any, method: str, *params: Any) -> Any:
        if method == "hardhat_mine":
            rb.PERSISTS_SEEN.append(1)  # type: ignore[attr-defined]
        return mined(self, method, *params)

    rb.Rpc.call = counting  # type: ignore[method-assign]
    with devnet_node("sdex-recheck83gc-") as (_, signer, cfg):
        asyncio.run(rb.serve_once(cfg))  # (the store made, empty: its schema and identity)
        fill(cfg.db, signer.resting(args.orders, list(range(nb.OPERATOR))))
        mark(cfg.db, True)
        gc.callbacks.append(timed)
        out = asyncio.run(rb.run(cfg, args.blocks))
        gc.callbacks.remove(timed)
    tree = str(Path(sdex.__file__).parent.parent)
    freeze = os.environ.get("SDEX_GC_FREEZE", "1")
    print(
        json.dumps({"tree": tree, "orders": args.orders, "gc_freeze": freeze, "gc": PAUSES, **out}),
        flush=True,
    )


if __name__ == "__main__":
    main()
