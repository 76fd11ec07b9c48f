"""Wallet orders posted during a fresh node's replay of a long chain: held for the mirror
(replay79) against read one by one (as before: ``ReplayHold.most`` 0, every order read at
once). One Hardhat devnet with ~``--blocks`` blocks mined above the deployment, a WETH
transfer to a maker every 15; per round, for each variant (alternated), an in-process node
on a fresh store starts and ``--orders`` asks from 4 makers are posted at once right away.
Per round: the replay's time (start to the mirror following the chain), the orders' answer
times (p50, max), their codes, the chain reads intake made. Prints JSON.

    PYTHONPATH=$PWD .venv/bin/python bench/replay79_hold.py [--rounds 3] [--orders 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sdex.devnet import Devnet  # noqa: E402
from tests.conftest import Chain, chain_of  # noqa: E402
from tests.nodeutil import node_config, running_node, wait_for  # noqa: E402
from tests.test_replay79 import busy_blocks  # noqa: E402

E15 = 10**15


async def one(c: Chain, db: Path, hold: bool, orders: int, salt: int) -> dict[str, Any]:
    signed = [
        c.sign(c.order(1 + i % 4, c.weth, E15, c.usdc, 3_000_000 + i, salt=salt + i))
        for i in range(orders)
    ]
    began = time.monotonic()
    async with running_node(node_config(c, db)) as (node, api):
        if not hold:
            node.replay_hold.most = 0  # (as before: each read at once)
        started = time.monotonic()
        ready_at_post = node.mirror_ready()

        async def timed(s: Any) -> tuple[int, float]:
            t = time.monotonic()
            code, _ = await api.post_order(s)
            return code, time.monotonic() - t

        answers = await asyncio.gather(*(timed(s) for s in signed))
        await wait_for(node.mirror_ready, timeout=300)
        replay = time.monotonic() - began
        waits = sorted(w for _, w in answers)
        return {
            "start_s": round(started - began, 3),
            "replay_s": round(replay, 3),
            "mirror_ready_at_post": ready_at_post,
            "wait_p50_s": round(waits[len(waits) // 2], 3),
            "wait_max_s": round(waits[-1], 3),
            "codes": dict(Counter(code for code, _ in answers)),
            "reads": node.intake.read,
            "held": node.replay_hold.held,
        }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="replay79-"))
    dev = Devnet(deployment_path=work / "devnet.json", log_path=work / "hardhat.log", accounts=20)
    deployment = dev.start()
    try:
        assert dev.rpc is not None
        c = chain_of(dev.rpc, deployment)
        head = busy_blocks(c, args.blocks)
        out: dict[str, Any] = {"head": head, "deployBlock": deployment.deploy_block, "rounds": []}
        for r in range(args.rounds):
            order = [True, False] if r % 2 == 0 else [False, True]
            row: dict[str, Any] = {}
            for hold in order:
                name = "held" if hold else "read_at_once"
                row[name] = await one(
                    c, work / f"{r}-{name}.db", hold, args.orders, 10**6 * (r * 2 + hold)
                )
            out["rounds"].append(row)
        out["loadavg"] = os.getloadavg()
        return out
    finally:
        dev.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--orders", type=int, default=50)
    p.add_argument("--blocks", type=int, default=3_000)
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=1))


if __name__ == "__main__":
    main()
