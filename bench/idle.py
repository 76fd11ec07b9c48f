#!/usr/bin/env python3
"""An idle node's CPU: new heads by subscription vs by polling 20 times a second.

One Hardhat devnet, one in-process node per mode, nothing posted: the node's process CPU
time over a window, as a share of one core, with the watcher's JSON-RPC calls in the same
window. The reference (polling, ``new_heads=False``, 0.05 s) is what every node did before
the subscription. Prints JSON; ``--write`` updates docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine, write_section  # noqa: E402

from sdex.devnet import Devnet, free_port  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402


async def idle(cfg: NodeConfig, seconds: float) -> dict[str, Any]:
    async with serve(cfg) as node:
        await asyncio.wait_for(node.watcher.caught_up.wait(), 60)
        await asyncio.sleep(2.0)  # settle after start
        calls0 = node.watch_rpc.total_calls
        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
        return {
            "cores": round(cpu / wall, 4),
            "watcher_calls_per_s": round((node.watch_rpc.total_calls - calls0) / wall, 2),
            "subscribed": node.watcher.subscribed,
        }


async def run(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, Devnet(accounts=20) as dep:
        key = bytes.fromhex(dep.accounts[19].key[2:])
        base = NodeConfig.from_deployment(dep, key, Path(tmp) / "a.db", port=free_port())
        sub = await idle(base, seconds)
        poll_cfg = replace(base, db=Path(tmp) / "b.db", port=free_port(), new_heads=False)
        poll = await idle(poll_cfg, seconds)
    return {
        "machine": machine(),
        "seconds": seconds,
        "subscription": sub,
        "polling_20_per_s": poll,
        "ratio_cores_subscription_over_polling": round(sub["cores"] / max(poll["cores"], 1e-9), 3),
    }


def markdown(r: dict[str, Any]) -> str:
    m, s, p = r["machine"], r["subscription"], r["polling_20_per_s"]
    return (
        f"Measured {date.today().isoformat()} on {m['os']}, nproc {m['nproc']}, {m['cpu']}, "
        f"CPython {m['python']}, by `bench/idle.py --seconds {r['seconds']:g}`: one node, "
        "in-process, one Hardhat, no orders; the node process's CPU time over the window "
        "(machine shared with other work).\n\n"
        "| new heads | node CPU (cores) | watcher JSON-RPC calls/s |\n|---|---|---|\n"
        f"| `eth_subscribe(newHeads)` + safety poll 1/s | {s['cores']} | "
        f"{s['watcher_calls_per_s']} |\n"
        f"| polling every 0.05 s (before) | {p['cores']} | {p['watcher_calls_per_s']} |\n\n"
        f"Ratio subscription / polling: {r['ratio_cores_subscription_over_polling']}. "
        "Target: an idle node below 0.01 core.\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--write", type=Path, help="update the idle section of this markdown file")
    args = ap.parse_args()
    r = asyncio.run(run(args.seconds))
    print(json.dumps(r, indent=2))
    if args.write:
        write_section(args.write, "Idle node (bench/idle.py)", markdown(r))


if __name__ == "__main__":
    main()
