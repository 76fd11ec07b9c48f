"""Order-to-receipt of two (or more) node trees in the same minutes, on one devnet (``--engine``:
Hardhat by default, or anvil).

Each round starts every tree's node in turn (the order reversed every other round) against
the same chain and runs bench/node.py's under-load step (``bench_latency_under_load``:
resting asks, then crossing bids offered open-loop at ``--rate`` a second for ``--seconds``)
or, with ``--single``, its one-crossing-at-a-time step (``bench_latency``). One JSON line a
run: p50 / p90 / p99, matches per transaction, stage means, every process's cores. A tree
is a checkout with its compiled book and artifacts/ (``--root NAME=DIR``, repeated).
``--timeline`` adds each run's stages from the node's settler timeline (p50 / p90 / p99 ms
and a histogram: counts below 1, 2, 5, ... 1,000 ms and above, ``hist_edges_ms``);
with ``--single``, ``--bare N`` first measures the chain's own time for a lone match from a
bare client on the same chain (pre-flight, send with receipt, a batch of one: one JSON
line, ``"code": "bare"``), the floor under the node's figure in the same minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import node as bn

from sdex.devnet import Devnet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--single", type=int, default=0, metavar="N", help="N crossings, one at a time")
    ap.add_argument(
        "--bare", type=int, default=0, metavar="N",
        help="with --single: before each node, N lone matchOrders from a bare client (the "
        "chain's own pre-flight and send-with-receipt times, bench/node.py's bare_lone)",
    )  # fmt: skip
    ap.add_argument("--timeline", action="store_true", help="stage by stage (SDEX_SETTLE_TIMELINE)")
    ap.add_argument("--engine", choices=("hardhat", "anvil"), default="hardhat")
    ap.add_argument(
        "--env", action="append", default=[], metavar="NAME:VAR=VALUE",
        help="set VAR=VALUE in the environment of NAME's nodes only (an A/B of a setting)",
    )  # fmt: skip
    args = ap.parse_args()
    envs: dict[str, dict[str, str]] = {}
    for e in args.env:
        who, _, setting = e.partition(":")
        var, _, value = setting.partition("=")
        envs.setdefault(who, {})[var] = value
    bn.TIMELINES = {} if args.timeline else None
    roots = {n: Path(d).resolve() for n, d in (r.split("=", 1) for r in args.root)}
    names = list(roots)
    work = Path(tempfile.mkdtemp(prefix="sdex-pairs-"))
    dev = Devnet(
        deployment_path=work / "devnet.json",
        log_path=work / f"{args.engine}.log",
        accounts=20,
        engine=args.engine,
    )
    dep = dev.start()
    try:
        assert dev.rpc is not None and dev.node.proc is not None
        signer, key = bn.devnet_signer(dev, dep)
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                # (each run's orders valid for hours from the chain's clock now: a block a
                # transaction moves it a second each, ~12,000 blocks passed a fixed expiry)
                signer.expiry = bn.chain_expiry(dev.rpc)
                bn.NODE_ROOT = roots[name]
                if args.single and args.bare:
                    bare = bn.bare_lone(dev.node.url, dep, signer, args.bare, args.engine)
                    print(json.dumps({"round": r, "code": "bare", "at": time.strftime("%H:%M:%S"),
                                      "load": os.getloadavg()[0], **bare}), flush=True)  # fmt: skip
                saved = {v: os.environ.get(v) for v in envs.get(name, {})}
                os.environ.update(envs.get(name, {}))  # (this tree's nodes only)
                try:
                    with bn.node_process(work / "devnet.json", key, work, f"{name}-{r}", None) as (
                        p,
                        url,
                    ):
                        pids = {args.engine: dev.node.proc.pid, "node": p.pid}
                        res: dict[str, Any] = asyncio.run(
                            bn.bench_latency(url, signer, args.single, pids)
                            if args.single
                            else bn.bench_latency_under_load(
                                url, signer, args.rate, args.seconds, pids
                            )
                        )
                finally:
                    for v, was in saved.items():
                        if was is None:
                            os.environ.pop(v, None)
                        else:
                            os.environ[v] = was
                line = {
                    "round": r,
                    "code": name,
                    "at": time.strftime("%H:%M:%S"),
                    "load": os.getloadavg()[0],
                    **res["order_to_receipt_ms"],
                    "m_per_tx": res.get("matches_per_transaction"),
                    "stages": res.get("settlement_stages_ms_per_match"),
                    "calls_per_tx": res.get("chain_calls_per_transaction"),
                    "with_send": res.get("receipts_with_send"),
                    "cores": res["cpu_cores_used"],
                    "cpu_ms": res.get("cpu_ms"),
                    **({"timeline": res["timeline_ms"]} if "timeline_ms" in res else {}),
                }
                print(json.dumps(line), flush=True)
    finally:
        dev.stop()
    shutil.rmtree(work, ignore_errors=True)  # (kept when the run raised: its logs)


if __name__ == "__main__":
    main()
