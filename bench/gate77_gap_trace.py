#!/usr/bin/env python3
"""Where the event loop's longest turns go during a start's reset walk (reset74's
``bench/reset74_walk_ready.py`` set-up: ``--closed`` real signed orders stored closed
``filled``, which the devnet never filled, so the walk reopens every one, with
``rejudge_due`` set): a watchdog thread samples the event loop thread's stack every 20 ms
while a 5 ms ticker on the loop has not run for over ``--stall`` ms, and prints, per stall
over it, its length, the garbage collector's runs that began in it (generation, ms: the
collector stops the loop's thread wherever it allocates), and the stack frames (ours:
``sdex/``) seen most in its samples.

Not a timing to compare: a trace (each sample costs the loop's thread a little GIL).

Run: PYTHONPATH=$PWD .venv/bin/python bench/gate77_gap_trace.py [--closed N] [--stall MS]
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
import threading
import time
from typing import Any

import node as nb
from http_modes import devnet_node
from loopstalls import GC, Watchdog, ours, tick_until_walked
from review73_rejudge_walk import fill, mark

import sdex
from sdex.node.config import NodeConfig
from sdex.node.main import serve


async def start(cfg: NodeConfig, stall: float) -> dict[str, Any]:
    dog = Watchdog(threading.get_ident(), stall, ours, top=3)
    t0 = time.perf_counter()
    async with serve(cfg) as node:
        ready = time.perf_counter() - t0
        dog.start()
        walked, _ = await tick_until_walked(node, t0, ready, 0.0, dog.saw)
        dog.done.set()
        dog.join(5)
    longest = sorted(dog.stalls, key=lambda s: -s["ms"])[:8]
    return {"ready_s": round(ready, 2), "walked_s": round(walked, 2), "stalls": longest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--closed", type=int, default=50_000)
    ap.add_argument("--stall", type=float, default=250.0, help="ms without a tick")
    args = ap.parse_args()
    gc.callbacks.append(GC)
    with devnet_node("sdex-gaptrace-") as (_, signer, cfg):
        asyncio.run(start(cfg, 1e9))  # (the store made, empty: its schema and identity)
        fill(cfg.db, signer.resting(args.closed, list(range(nb.OPERATOR))))
        mark(cfg.db, True)
        run = asyncio.run(start(cfg, args.stall / 1000))
    out = {"tree": str(Path(sdex.__file__).parent.parent), "closed_filled": args.closed,
           **run, "loadavg": os.getloadavg()}  # fmt: skip
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
