#!/usr/bin/env python3
"""Where a wallet group's signatures are recovered (issue 11, http70), in one process on one
devnet: fresh signed orders through ``Node.submit_wallet`` (the API's way: a loop turn's
orders through the intake together), ``--in-flight`` at once, rounds alternating the ways:

- ``auto``: as the node does (the worker thread while a core is spare, ``SpareCore``);
- ``thread``: always the worker thread, its verdicts back in ``parts`` (8, 16, 32, ...);
- ``whole``: always the worker thread, a turn's verdicts back in one part;
- ``loop``: always on the loop, at once.

Per round: the process's CPU an order (the loop's thread, the other threads), orders a
group, and the other processes' cores meanwhile (the machine's busy time less this
process's, ``/proc/stat``). Prints a JSON line per round, then the medians per way."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import node as nb  # noqa: E402
from benchlib import machine_busy_seconds  # noqa: E402
from http69_wallet import posted  # noqa: E402
from http_modes import devnet_node  # noqa: E402

from sdex.ingest.cores import SpareCore  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402

WAYS = ("auto", "thread", "whole", "loop")


def set_way(node: Any, way: str) -> None:
    """The node's ECDSA batcher set to recover a group's signatures ``way``."""
    e = node.intake.ecdsa
    e.spare_core = SpareCore() if way == "auto" else SpareCore(read=lambda: None)  # (spare)
    e.thread_min = 10**9 if way == "loop" else 4
    e.chunk = e.max_batch if way == "whole" else 8


async def rounds(cfg: NodeConfig, bodies: list[list[dict[str, Any]]], ways: list[str],
                 in_flight: int) -> list[dict[str, Any]]:  # fmt: skip
    out = []
    async with serve(cfg) as node:
        group = node.wallet_group
        for i, objs in enumerate(bodies):
            way = ways[i]
            set_way(node, way)
            g0, n0 = group.groups, group.grouped
            m0, t0, p0, w0 = (
                machine_busy_seconds(),
                time.thread_time(),
                time.process_time(),
                time.monotonic(),
            )
            await posted(node, objs, in_flight, grouped=True)
            loop_s, all_s = time.thread_time() - t0, time.process_time() - p0
            wall, busy = time.monotonic() - w0, machine_busy_seconds() - m0
            if i == 0:
                continue  # warm-up: first-seen accounts are read from the chain
            n = len(objs)
            row = {
                "way": way,
                "loop_us": round(1e6 * loop_s / n, 1),
                "other_threads_us": round(1e6 * (all_s - loop_s) / n, 1),
                "total_us": round(1e6 * all_s / n, 1),
                "orders_a_group": round((group.grouped - n0) / max(1, group.groups - g0), 1),
                "orders_s": round(n / wall),
                "others_cores": round(max(0.0, busy - all_s) / wall, 2),
                "on_thread": node.intake.ecdsa.checked,
            }
            out.append(row)
            print(json.dumps(row), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-round", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of each way")
    ap.add_argument("--in-flight", type=int, default=48)
    ap.add_argument("--ways", default="thread,whole,loop", help=f"of {','.join(WAYS)}")
    args = ap.parse_args()
    chosen = args.ways.split(",")
    if not chosen or any(w not in WAYS for w in chosen):
        ap.error(f"--ways: some of {','.join(WAYS)}")
    ways = [chosen[0]]  # (the warm-up)
    for r in range(args.repeat):  # alternated, the order turned each repeat
        ways += chosen if r % 2 == 0 else chosen[::-1]
    n = args.per_round * len(ways)
    if n > nb.OPERATOR * 1000:
        ap.error("at most 19,000 orders in all (19 makers, 1,000 open orders each)")
    with devnet_node("sdex-group-") as (_, signer, cfg):
        orders = [o.to_json() for o in signer.resting(n, list(range(nb.OPERATOR)))]
        per = args.per_round
        bodies = [orders[i * per : (i + 1) * per] for i in range(len(ways))]
        out = asyncio.run(rounds(cfg, bodies, ways, args.in_flight))
    medians = {
        w: {k: statistics.median(r[k] for r in out if r["way"] == w) for k in out[0] if k != "way"}
        for w in chosen
    }
    print(json.dumps({"medians": medians, "machine": nb.machine()}))


if __name__ == "__main__":
    main()
