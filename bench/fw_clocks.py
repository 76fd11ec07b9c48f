#!/usr/bin/env python3
"""What ``forwardTiming``'s clocks cost a wallet's order on the event loop thread
(``sdex.node.forwarding``): ``--calls`` intake calls of ``begin``/``handed_over``/``add``
in one sampling window, sampled (``BUDGET``: the first window times twice the budget, the
rest read no clock) against every call timed (as before the sampling), alternated
``--repeat`` times. Prints the loop CPU and wall µs an order per run, and the medians."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdex.node import forwarding
from sdex.node.forwarding import ForwardTiming


async def run(calls: int, repeat: int) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {"sampled": [], "all": []}
    budget = forwarding.BUDGET
    for _ in range(repeat):
        for mode in out:
            forwarding.BUDGET = budget if mode == "sampled" else 10**9
            fw = ForwardTiming()
            fw._next()
            t0, w0 = time.thread_time(), time.perf_counter()
            for _ in range(calls):
                started = fw.begin("wallet")
                fw.clocked = started is not None
                fw.handed_over()
                fw.add("wallet", started, fw.last(), 1)
            cpu, wall = time.thread_time() - t0, time.perf_counter() - w0
            out[mode].append((1e6 * cpu / calls, 1e6 * wall / calls))
    forwarding.BUDGET = budget
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=6)
    args = ap.parse_args()
    out = asyncio.run(run(args.calls, args.repeat))
    for mode, rows in out.items():
        cpu = statistics.median(c for c, _ in rows)
        wall = statistics.median(w for _, w in rows)
        runs = ", ".join(f"{c:.2f}/{w:.2f}" for c, w in rows)
        print(f"{mode}: loop CPU {cpu:.2f} µs an order, wall {wall:.2f} (runs: {runs})")


if __name__ == "__main__":
    main()
