#!/usr/bin/env python3
"""A node's memory per closed order, and its intake throughput, in one process on a devnet.

Orders that close at once go through the wallet intake (``Node.submit``, IOC orders that
cross nothing: accepted, stored, then removed as unmatched), ``--chunk`` at a time. First
``--timed`` of them without tracemalloc: wall time and process CPU per order (the store
writer and the ECDSA thread count). Then ``--orders`` more under tracemalloc: the bytes the
Python heap grew by per closed order once the node settled (``--settle`` seconds: the closed
grace period and an eviction pass where there is one), and the records still in memory.
``--root DIR`` runs another checkout's ``sdex`` (a before/after in the same minutes: run
this file for both, alternated). Prints one JSON line.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # before any ``sdex`` import
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))
import sdex  # noqa: E402  (first: bench/node.py puts its own checkout on the path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Any  # noqa: E402

import node as nb  # noqa: E402
from http_modes import devnet_node  # noqa: E402

from sdex.matching import TimeInForce  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


async def submit_all(node: Any, objs: list[dict[str, Any]], chunk: int) -> None:
    for k in range(0, len(objs), chunk):
        got = await asyncio.gather(
            *(node.submit(dict(o), "api", TimeInForce.IOC) for o in objs[k : k + chunk])
        )
        bad = [r.status for r in got if r.status != 201]
        if bad:
            raise RuntimeError(f"not all accepted: {bad[:5]}")


async def run(cfg: NodeConfig, warm: list[Any], timed: list[Any], mem: list[Any],
              chunk: int, settle: float, top: int) -> dict[str, Any]:  # fmt: skip
    async with serve(cfg) as node:
        await submit_all(node, warm, chunk)  # first-seen accounts: read from the chain
        t0, p0 = time.perf_counter(), time.process_time()
        await submit_all(node, timed, chunk)
        wall, cpu = time.perf_counter() - t0, time.process_time() - p0
        await asyncio.sleep(settle)
        gc.collect()
        tracemalloc.start()
        before, rss0 = tracemalloc.get_traced_memory()[0], rss_kib()
        await submit_all(node, mem, chunk)
        await asyncio.sleep(settle)  # the grace period, then an eviction pass (if any)
        gc.collect()
        after, rss1 = tracemalloc.get_traced_memory()[0], rss_kib()
        if top:
            snap = tracemalloc.take_snapshot()
            for stat in snap.statistics("lineno")[:top]:
                print(stat, file=sys.stderr)
        tracemalloc.stop()
        return {
            "timed_orders": len(timed),
            "orders_per_s": round(len(timed) / wall),
            "cpu_us_per_order": round(1e6 * cpu / len(timed), 1),
            "mem_orders": len(mem),
            "heap_bytes_per_closed_order": round((after - before) / len(mem), 1),
            "rss_kib_growth": rss1 - rss0,
            "records_in_memory": len(node.registry.records),
            "health_orders": node.stats()["orders"],
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--timed", type=int, default=5_000)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--grace", type=float, default=1.0, help="closed_grace, where there is one")
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--top", type=int, default=0, help="print the N lines that hold most")
    ap.add_argument("--root", help="run this checkout's sdex (default: this file's)")
    args = ap.parse_args()
    with devnet_node("sdex-mem-") as (_, signer, cfg):
        if any(f.name == "closed_grace" for f in dataclasses.fields(cfg)):
            cfg = dataclasses.replace(cfg, closed_grace=args.grace)
        n = 200 + args.timed + args.orders
        orders = [o.to_json() for o in signer.resting(n, list(range(nb.OPERATOR)))]
        warm, timed, mem = orders[:200], orders[200 : 200 + args.timed], orders[200 + args.timed :]
        out = asyncio.run(run(cfg, warm, timed, mem, args.chunk, args.settle, args.top))
    out["sdex"] = str(Path(sdex.__file__).parent)
    out["loadavg"] = os.getloadavg()
    out["machine"] = nb.machine()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
