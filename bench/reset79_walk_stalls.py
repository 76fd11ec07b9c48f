#!/usr/bin/env python3
"""The event loop's stalls, and what a wallet's ``GET /health`` waits, during a start's reset
walk (reset74's set-up: ``--closed`` real signed orders stored closed ``filled``, which the
devnet never filled, so the walk reopens every one, ``rejudge_due`` set), against the same
start without the walk (``plain``: the machine's own stalls), sides alternated.

Per start, from ready until the walk is done (at least 5 s): ``walked_s``; the loop's gaps
between turns of a 5 ms ticker (``gap_max_ms``, ``gap_p99_ms``, ``over_100ms``: how many
gaps over 100 ms) and the loop thread's CPU in one iteration of the loop (``cpu_max_ms``,
``cpu_p99_ms``, ``cpu_over_50ms``: the turns' own work, without the time the machine did not
run the thread, which on a loaded machine makes most of the gaps; a task yielding at every
iteration notes it, so the loop never sleeps meanwhile, on either side); the longest
``/health`` answer of a client thread asking every 20 ms (``health_max_ms``: what a wallet
waits, its own request included); the collector's runs (``gc_max_ms``, ``gc_ms`` in all,
``gc_full_ms`` each full one: wall time, so a run the machine interrupted counts that too);
and the longest stalls (over ``--stall`` ms) with the collector's runs that began in each
and the loop thread's innermost frames sampled most (a watchdog thread samples them every 20
ms while the ticker is late: a trace, its samples cost the loop a little GIL; ``--no-trace``
leaves it out).

Run: PYTHONPATH=$PWD .venv/bin/python bench/reset79_walk_stalls.py [--closed N] [--repeat R]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import gc
import http.client
import json
import os
import threading
import time
from typing import Any

import node as nb
from http_modes import devnet_node
from loopstalls import GC, Watchdog, innermost, tick_until_walked
from review73_rejudge_walk import fill, mark

import sdex
from sdex.node.config import NodeConfig
from sdex.node.main import serve

SLOW: list[tuple[float, str]] = []
"""The loop's callbacks that took over 20 ms of its thread's CPU (``--handles``): ms, what."""


def time_handles() -> None:
    """Every callback the loop runs timed (its thread's CPU), the slow ones noted."""
    run = asyncio.events.Handle._run

    def timed(self: asyncio.events.Handle) -> None:
        cpu = time.thread_time()
        run(self)
        if (took := time.thread_time() - cpu) > 0.02:
            task = getattr(getattr(self, "_callback", None), "__self__", None)
            SLOW.append((round(took * 1000, 1), f"{self!r} {task!r}"[:400]))  # (where it waits)

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]


class Health(threading.Thread):
    """``GET /health`` every 20 ms on its own connection: each answer's wait (any status)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.waits: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            t0 = time.perf_counter()
            try:
                c.request("GET", "/health")
                c.getresponse().read()
            except OSError:
                pass
            finally:
                c.close()
            self.waits.append(time.perf_counter() - t0)


async def spinner(cpus: list[float]) -> None:
    """The loop thread's CPU between two of its iterations (``sleep(0)``: this task runs
    once in each), noted: what one iteration's callbacks (a turn of the walk among them)
    took, whether or not the machine ran the thread meanwhile."""
    cpu = time.thread_time()
    while True:
        await asyncio.sleep(0)
        cpus.append(-cpu + (cpu := time.thread_time()))


async def start(cfg: NodeConfig, stall: float, trace: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    async with serve(cfg) as node:
        ready = time.perf_counter() - t0
        where = innermost if trace else None
        dog, health = Watchdog(threading.get_ident(), stall, where), Health(cfg.port)
        dog.start()
        health.start()
        gc_from = len(GC.runs)
        cpus: list[float] = []  # (the loop thread's CPU in one iteration: its turns' own)
        spin = asyncio.create_task(spinner(cpus))
        walked, gaps = await tick_until_walked(node, t0, ready, 5.0, dog.saw)
        spin.cancel()
        dog.done.set()
        health.done.set()
        await asyncio.to_thread(dog.join, 5)
        await asyncio.to_thread(health.join, 35)
    gaps.sort()
    cpus.sort()
    runs = [d for _, _, d in GC.runs[gc_from:]]
    full = [round(d * 1000, 1) for g, _, d in GC.runs[gc_from:] if g == 2]
    waits = sorted(health.waits) or [0.0]
    return {
        "ready_s": round(ready, 2),
        "walked_s": round(walked, 2),
        "gap_max_ms": round(gaps[-1] * 1000, 1),
        "gap_p99_ms": round(gaps[int(len(gaps) * 0.99)] * 1000, 1),
        "over_100ms": sum(g > 0.1 for g in gaps),
        "cpu_max_ms": round(cpus[-1] * 1000, 1),
        "cpu_p99_ms": round(cpus[int(len(cpus) * 0.99)] * 1000, 1),
        "cpu_over_50ms": sum(c > 0.05 for c in cpus),
        "health_max_ms": round(waits[-1] * 1000, 1),
        "health_p99_ms": round(waits[int(len(waits) * 0.99)] * 1000, 1),
        "gc_max_ms": round(max(runs, default=0.0) * 1000, 1),
        "gc_ms": round(sum(runs) * 1000),
        "gc_full_ms": full,
        "stalls": sorted(dog.stalls, key=lambda s: -s["ms"])[:6],
        "slow_callbacks": sorted(SLOW, reverse=True)[:6],
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--closed", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--sides", default="walk,plain")
    ap.add_argument("--stall", type=float, default=100.0, help="ms without a tick")
    ap.add_argument("--no-trace", action="store_true")
    ap.add_argument("--handles", action="store_true", help="note callbacks over 20 ms CPU")
    args = ap.parse_args()
    gc.callbacks.append(GC)
    if args.handles:
        time_handles()
    sides = args.sides.split(",")
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    with devnet_node("sdex-walkstalls-") as (_, signer, cfg):
        asyncio.run(start(cfg, 1e9, False))  # (the store made, empty: its schema and identity)
        fill(cfg.db, signer.resting(args.closed, list(range(nb.OPERATOR))))
        for _ in range(args.repeat):  # (alternated: A, B, A, B...)
            for side in sides:
                mark(cfg.db, side == "walk")
                SLOW.clear()
                runs[side].append(asyncio.run(start(cfg, args.stall / 1000, not args.no_trace)))
                print(json.dumps({side: runs[side][-1]}), file=sys.stderr, flush=True)
    out = {"tree": str(Path(sdex.__file__).parent.parent), "closed_filled": args.closed, **runs}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
