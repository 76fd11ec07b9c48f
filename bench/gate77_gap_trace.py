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
import collections
import gc
import json
import os
import threading
import time
import traceback
from typing import Any

import node as nb
from http_modes import devnet_node
from review73_rejudge_walk import fill, mark

import sdex
from sdex.node.config import NodeConfig
from sdex.node.main import serve


class GcTimes:
    """The collector's runs (``gc.callbacks``): generation, start and length, each."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, float, float]] = []
        self._at = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._at = time.perf_counter()
        else:
            self.runs.append((info["generation"], self._at, time.perf_counter() - self._at))

    def within(self, start: float, end: float) -> list[list[float]]:
        """[generation, ms] of the runs that began between ``start`` and ``end``."""
        return [[g, round(d * 1000)] for g, at, d in self.runs if start <= at <= end]


GC = GcTimes()


class Watchdog:
    """Samples ``thread_id``'s stack while the loop's last tick is older than ``stall``."""

    def __init__(self, thread_id: int, stall: float) -> None:
        self.thread_id, self.stall = thread_id, stall
        self.tick = time.perf_counter()
        self.stalls: list[dict[str, Any]] = []
        self._samples: collections.Counter[str] = collections.Counter()
        self._since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            now, tick = time.perf_counter(), self.tick
            if now - tick > self.stall:
                self._since = tick
                frame = sys._current_frames().get(self.thread_id)
                if frame is not None:
                    ours = [
                        f"{Path(f.filename).name}:{f.lineno} {f.name}"
                        for f in traceback.extract_stack(frame)
                        if "/sdex/" in f.filename
                    ]
                    self._samples[" <- ".join(reversed(ours[-6:]))] += 1
            elif self._since is not None:
                self.stalls.append({
                    "ms": round((tick - self._since) * 1000),
                    "gc": GC.within(self._since, tick),
                    "stacks": self._samples.most_common(3),
                })  # fmt: skip
                self._since, self._samples = None, collections.Counter()


async def start(cfg: NodeConfig, stall: float) -> dict[str, Any]:
    dog = Watchdog(threading.get_ident(), stall)
    t0 = time.perf_counter()
    async with serve(cfg) as node:
        ready = time.perf_counter() - t0
        dog.start()
        walked = 0.0
        while not walked:
            await asyncio.sleep(0.005)
            now = dog.tick = time.perf_counter()
            if not (getattr(node, "rejudging", False) or node.store.rejudge_due):
                walked = now - t0
            if now - t0 > 1200:
                raise TimeoutError("the walk took over 20 minutes")
        dog.stop()
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
