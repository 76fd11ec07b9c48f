#!/usr/bin/env python3
"""Chaos with real parts (chaos52): for each seed, a fresh Hardhat devnet and three ``sdex
node`` processes peered on loopback, wallets posting crossing and resting orders (GTC, IOC,
FOK; soft and on-chain cancels) while, at seeded steps, nodes are killed (SIGKILL) or stopped
(SIGTERM) and restarted on their databases and ports, the chain is rewound (1-10 blocks,
some across a settlement in flight), mining pauses and resumes, and makers' funds or
approvals go away and come back. After each phase and at the end every invariant is checked
(``tests/chaosrun.py``: acknowledged orders kept, each node's status and filled amount
against ``getOrderStates``, its fills on chain, ``sdex audit`` clean, no node dead or with a
traceback). Prints one JSON line a seed (its violations and the events before them), then a
summary line. Not a timing: nothing here is a ratio.

Run: PYTHONPATH=$PWD .venv/bin/python bench/chaos52.py [--seeds 1,2,3] [--steps 30]
     [--phases 3] [--cancel-in-flight] [--restart-in-reorg] [--cuts] [--outside-fills] [--db-locks]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402

from sdex.devnet import Devnet  # noqa: E402
from tests.chaosrun import ChaosRun  # noqa: E402
from tests.conftest import chain_of  # noqa: E402
from tests.nodeutil import GOSSIP_SCALE, Cluster  # noqa: E402


async def one_seed(seed: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    devnet = Devnet(log_path=tmp / "hardhat.log", accounts=20)
    devnet.start()
    started = time.monotonic()
    try:
        assert devnet.rpc is not None and devnet.deployment is not None
        c = chain_of(devnet.rpc, devnet.deployment)
        async with Cluster(c, tmp, [[1, 2], [0, 2], [0, 1]], GOSSIP_SCALE) as net:
            run = ChaosRun(
                c, net, seed, steps=args.steps, phases=args.phases,
                cancel_in_flight=args.cancel_in_flight, restart_in_reorg=args.restart_in_reorg,
                cuts=args.cuts, outside_fills=args.outside_fills, db_locks=args.db_locks,
            )  # fmt: skip
            out = await run.run()
            out["signing_holds"] = [await _holds(net, i) for i in range(3)]
    finally:
        devnet.stop()
    out["seconds"] = round(time.monotonic() - started, 1)
    out["logs"] = str(tmp)
    if not out["violations"] and not out["paid"]:
        out.pop("events")
    return out


async def _holds(net: Cluster, i: int) -> Any:
    """Node ``i``'s signing holds behind blocks known and not applied (``/health``
    ``chainMirror.unapplied``: since its last start; None if it did not answer)."""
    try:
        _, body = await net.api(i).get("/health")
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as e:
        return repr(e)
    return body.get("chainMirror", {}).get("unapplied") if isinstance(body, dict) else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--phases", type=int, default=3)
    ap.add_argument("--cancel-in-flight", action="store_true")
    ap.add_argument(
        "--restart-in-reorg", action="store_true",
        help="rewind the chain while a node is down (a SIGKILL with a snapshot open, and the "
        "revert across a settlement in flight): the node meets the reorg at its start",
    )  # fmt: skip
    ap.add_argument(
        "--cuts", action="store_true",
        help="cut a node off for a few steps (SIGSTOP, then SIGCONT) while posts and soft "
        "cancels go to the others",
    )  # fmt: skip
    ap.add_argument(
        "--outside-fills", action="store_true",
        help="fill orders of the run straight on chain (fillOrder) from an account no node "
        "knows, whole or in part, most often the order a crossing post just put in a match",
    )  # fmt: skip
    ap.add_argument(
        "--db-locks", action="store_true",
        help="hold a node's database write lock from another connection for 1-8 s (past "
        "its 5 s busy timeout at times) while posts and soft cancels go on",
    )  # fmt: skip
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    held, broke = [], {}
    for seed in seeds:
        tmp = Path(tempfile.mkdtemp(prefix=f"chaos52-{seed}-"))
        out = asyncio.run(one_seed(seed, args, tmp))
        print(json.dumps(out), flush=True)
        kinds = sorted({v["kind"] for v in out["violations"]})
        if kinds:
            broke[seed] = kinds  # (its directory kept: the nodes' logs)
        else:
            held.append(seed)
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"summary": True, "seeds": seeds, "held": held, "broke": broke}))


if __name__ == "__main__":
    main()
