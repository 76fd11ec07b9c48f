#!/usr/bin/env python3
"""When a node on a large store opens its port, when it is ready, and how long its event
loop is held meanwhile; against the same node on an empty store (the reference, same run).

The store is made as ``bench/startup_loop.py`` makes it (``fill``): ``--closed`` closed orders
and ``--open`` open ones (real signed orders of 19 makers), ``--closed + --open`` orders in
all (100,000 by default). Then ``serve`` starts in-process while a task on the same loop
wakes every 5 ms (the longest time past its wake-up: the longest hold of the loop) and a
thread asks ``GET /health`` every 20 ms (2 s timeout): the first TCP answer is the port
open, the first 200 the node ready; the answers it got before then are counted by status.
No order is lost: the open orders the node holds once ready are counted against the store's.
Prints one JSON line.

Run: PYTHONPATH=$PWD .venv/bin/python bench/startup_port.py [--closed N] [--open N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import node as nb
from http_modes import devnet_node
from startup_loop import TICK, fill

from sdex.node.config import NodeConfig
from sdex.node.main import serve


class Prober(threading.Thread):
    """``GET /health`` every 20 ms from a thread (the loop under test is not its clock)."""

    def __init__(self, url: str, t0: float) -> None:
        super().__init__(daemon=True)
        self.url, self.t0 = url, t0
        self.port_open: float | None = None
        self.ready: float | None = None
        self.answers: Counter[int] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and self.ready is None:
            try:
                with urllib.request.urlopen(self.url, timeout=2.0) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except OSError:
                status = 0  # refused, or no answer in 2 s
            now = time.perf_counter() - self.t0
            if status and self.port_open is None:
                self.port_open = now
            if status:
                self.answers[status] += 1
            if status == 200:
                self.ready = now
            self.stop.wait(0.02)


async def measure(cfg: NodeConfig) -> dict[str, Any]:
    stalls: list[float] = []

    async def watch() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(TICK)
            stalls.append(time.perf_counter() - t - TICK)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    probe = Prober(f"http://{cfg.host}:{cfg.port}/health", t0)
    probe.start()
    async with serve(cfg) as node:
        started = time.perf_counter() - t0
        while probe.ready is None and probe.is_alive():
            await asyncio.sleep(0.02)
        watcher.cancel()
        probe.stop.set()
        held = node.open_orders
    return {
        "port_open_s": None if probe.port_open is None else round(probe.port_open, 3),
        "ready_s": None if probe.ready is None else round(probe.ready, 3),
        "serve_started_s": round(started, 3),
        "longest_hold_s": round(max(stalls), 3),
        "held_over_50ms_s": round(sum(s for s in stalls if s > 0.05), 2),
        "health_answers_before_ready": {str(k): v for k, v in sorted(probe.answers.items())},
        "open_orders_held": held,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--closed", type=int, default=90_000)
    ap.add_argument("--open", type=int, default=10_000)
    args = ap.parse_args()
    with devnet_node("sdex-startport-") as (_, signer, cfg):
        empty = asyncio.run(measure(cfg))  # (the store made, empty: the reference)
        opened = signer.resting(args.open, list(range(nb.OPERATOR)))
        fill(cfg.db, args.closed, opened)
        large = asyncio.run(measure(cfg))
    out: dict[str, Any] = {"empty": empty, "large": large}
    for k in ("port_open_s", "ready_s"):
        if empty[k] and large[k]:
            out[f"{k}_ratio_large_to_empty"] = round(large[k] / empty[k], 1)
    out.update(closed=args.closed, open=args.open, loadavg=os.getloadavg())
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
