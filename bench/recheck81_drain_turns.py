#!/usr/bin/env python3
"""The event loop's turns from the first block after a start with many orders due a recheck
until none is due: ``--orders`` real signed orders stored closed ``filled`` (the devnet never
filled them), every one due a recheck, as a kill leaves them (recheck80's start); the start
reads ``RECHECK_READS`` of them, which teaches the mirror their makers' funds: from the first
block every one left is judgeable. Then blocks mined one at a time (each waited for at the
node) till no order is due, or ``--blocks``.

Reported: the loop thread's longest turn (CPU ms) from the first block's mining till none is
due (``turn_max_ms``; the old tree judges every one left in the first block's turn), the
turns over 50 ms, the seconds till none is due, the blocks mined, and the slowest answer
of ``/health`` asked every 10 ms from another thread meanwhile (``health_max_ms``: what a
client waits). Run it with the tree to measure on ``PYTHONPATH`` (old and new alternated by
the caller, each its own devnet).

Run: PYTHONPATH=$PWD .venv/bin/python bench/recheck81_drain_turns.py [--orders N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import asyncio
import os
import threading
import time
import urllib.request
from typing import Any

from recheck80_block_turns import bench_main, spin

from sdex.chain.rpc import Rpc
from sdex.node.main import serve


def ask_health(port: int, stop: threading.Event, took: list[float]) -> None:
    """``/health`` asked every 10 ms till ``stop``: each answer's wall time."""
    url = f"http://127.0.0.1:{port}/health"
    while not stop.is_set():
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                r.read()
        except OSError:
            pass
        took.append(time.perf_counter() - t)
        stop.wait(0.01)


async def run(cfg: Any, blocks: int) -> dict[str, Any]:
    rpc = Rpc(cfg.rpc)
    async with serve(cfg) as node:
        due_at_start = len(node._recheck)
        cpus: list[float] = []
        took: list[float] = []
        stop = threading.Event()
        asker = threading.Thread(target=ask_health, args=(node.config.port, stop, took))
        ticker = asyncio.create_task(spin(cpus))
        asker.start()
        t0 = time.perf_counter()
        mined = 0
        try:
            while node._recheck and mined < blocks:
                head = node.mirror.head.number if node.mirror.head is not None else -1
                await asyncio.to_thread(rpc.call, "hardhat_mine", "0x1")
                mined += 1
                async with asyncio.timeout(120):
                    while node.mirror.head is None or node.mirror.head.number <= head:
                        await asyncio.sleep(0.01)
                    end = time.perf_counter() + 2.0  # (the drain's passes, before the next)
                    while node._recheck and time.perf_counter() < end:
                        await asyncio.sleep(0.01)
            drained = time.perf_counter() - t0
            await asyncio.sleep(0.05)
        finally:
            ticker.cancel()
            stop.set()
            await asyncio.to_thread(asker.join)
    return {
        "due_at_start": due_at_start,
        "due_at_end": len(node._recheck),
        "blocks": mined,
        "seconds_till_none_due": round(drained, 2),
        "turn_max_ms": round(max(cpus, default=0.0) * 1000, 1),
        "turns_over_50ms": sum(c > 0.05 for c in cpus),
        "health_max_ms": round(max(took, default=0.0) * 1000, 1),
        "health_answers": len(took),
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    bench_main(__doc__, "sdex-recheck81-", 60, run)


if __name__ == "__main__":
    main()
