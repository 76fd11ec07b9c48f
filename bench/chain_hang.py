#!/usr/bin/env python3
"""How soon an idle node says its hung chain is unreachable, and ok again once it answers.

One Hardhat of its own (stopped with SIGSTOP: it keeps taking connections and answers
nothing; SIGCONT resumes it), one in-process node subscribed to new heads, nothing posted.
Per round: seconds from SIGSTOP to the watcher's ``unreachable``, and from SIGCONT to ``ok``,
against the reference the node's design gives (``STALL`` + ``SUBSCRIBED_POLL``). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402

from sdex.chainnode import HardhatNode  # noqa: E402
from sdex.devnet import deploy_devnet, free_port  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402
from sdex.watch.loop import STALL, SUBSCRIBED_POLL  # noqa: E402


async def until(cond: Any, bound: float) -> float:
    """Seconds until ``cond()`` holds (checked every 10 ms), at most ``bound``."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > bound:
            raise TimeoutError(f"not within {bound} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


async def run(rounds: int) -> dict[str, Any]:
    chain = HardhatNode(None, None, 20)
    rpc = chain.start()
    assert chain.proc is not None
    pid = chain.proc.pid
    try:
        dep = deploy_devnet(rpc, chain.url, 20)
        with tempfile.TemporaryDirectory() as tmp:
            key = bytes.fromhex(dep.accounts[19].key[2:])
            cfg = NodeConfig.from_deployment(dep, key, Path(tmp) / "n.db", port=free_port())
            async with serve(cfg) as node:
                w = node.watcher
                await asyncio.wait_for(w.caught_up.wait(), 60)
                await until(lambda: w.subscribed, 30)
                detect, recover = [], []
                for _ in range(rounds):
                    os.kill(pid, signal.SIGSTOP)
                    try:
                        detect.append(await until(lambda: w.status == "unreachable", 60))
                    finally:
                        os.kill(pid, signal.SIGCONT)
                    recover.append(await until(lambda: w.status == "ok", 60))
                    await asyncio.sleep(1.5)  # (a quiet gap between rounds, not a wait on a state)
    finally:
        rpc.close()
        chain.stop()
    design = STALL + SUBSCRIBED_POLL
    return {
        "machine": machine(),
        "rounds": rounds,
        "stop_to_unreachable_s": [round(x, 2) for x in detect],
        "cont_to_ok_s": [round(x, 2) for x in recover],
        "design_bound_s": design,
        "median_detect_over_bound": round(statistics.median(detect) / design, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.rounds)), indent=2))


if __name__ == "__main__":
    main()
