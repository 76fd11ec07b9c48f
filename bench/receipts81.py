"""settle81: a node's receipt traffic while many settlements wait on a pool, old and new
alternated.

Per round and tree (``--old``: another tree's root, run with ``bench/node.py``'s
``NODE_ROOT``; this tree's new), one ``sdex node`` on a fresh database behind
``bench/rpcproxy.py`` (every call counted, bytes each way) on one Hardhat: automine off,
``--pairs`` crossing pairs posted ``--gap-ms`` apart (one settlement each, all pooled), the
pool held ``--pooled-seconds`` (the waits' loss checks run meanwhile), then mined in one
block and every fill awaited. Counted from the first post to the last fill: requests, the
receipt asks (``eth_getTransactionReceipt``: alone or a batch's members), the loss checks'
``eth_getTransactionByHash`` and the bytes they answered. One JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import node as bn

from sdex.chain import Rpc

RECEIPT = "eth_getTransactionReceipt"
BY_HASH = "eth_getTransactionByHash"
JSON = {"Content-Type": "application/json"}


def summary(stats: dict[str, Any]) -> dict[str, Any]:
    """The proxy's figures since its reset, as this bench reports them."""
    rows = stats["methods"]

    def of(method: str, key: str) -> float:
        return sum(r[key] for m, r in rows.items() if m.removeprefix("batch:") == method)

    requests = sum(1 for t in stats["timeline"] if t[2] != "ws")
    return {
        "requests": requests,
        "receipt_asks": int(of(RECEIPT, "calls")),
        "receipt_requests": sum(1 for t in stats["timeline"] if RECEIPT in t[2]),
        "by_hash_asks": int(of(BY_HASH, "calls")),
        "by_hash_kb": round(of(BY_HASH, "bytes_out") / 1024, 1),
        "kb_answered": round(sum(t[3] for t in stats["timeline"]) / 1024, 1),
        "chain_service_ms": round(sum(r["service_ms"] for r in rows.values()), 1),
    }


async def one_round(
    rpc: Rpc, signer: bn.Signer, url: str, proxy: str, args: argparse.Namespace
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy + "/__reset") as r:
            await r.read()
        rpc.call("evm_setAutomine", False)
        try:
            for i in range(args.pairs):
                a, b = 1 + 2 * (i % 5), 2 + 2 * (i % 5)
                for signed in (signer.order(a, False, bn.MID), signer.order(b, True, bn.MID)):
                    async with s.post(url + "/v1/orders", data=bn.body(signed), headers=JSON) as r:
                        assert r.status == 201, await r.text()
                await asyncio.sleep(args.gap_ms / 1000)
            await asyncio.sleep(args.pooled_seconds)
            rpc.call("evm_mine")
        finally:
            rpc.call("evm_setAutomine", True)
        deadline = time.monotonic() + 120
        while await bn.fills_total(s, url) < 2 * args.pairs:
            if time.monotonic() > deadline:
                raise RuntimeError("the fills did not come")
            await asyncio.sleep(0.05)
        async with s.get(proxy + "/__stats") as r:
            stats = await r.json()
        if args.timeline is not None:
            with args.timeline.open("a") as f:
                f.write(json.dumps(stats["timeline"]) + "\n")
        return summary(stats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--old", type=Path, required=True, help="the old tree's root")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--gap-ms", type=float, default=60.0)
    ap.add_argument("--pooled-seconds", type=float, default=3.0)
    ap.add_argument("--timeline", type=Path, help="append each round's requests here")
    args = ap.parse_args()
    trees = {"old": args.old.resolve(), "new": bn.ROOT}
    out: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    with bn.signed_devnet("receipts81-") as (work, dev, deployment, signer, key):
        assert dev.rpc is not None
        for n in range(args.rounds):
            order = ("old", "new") if n % 2 == 0 else ("new", "old")
            for label in order:
                bn.NODE_ROOT = trees[label]
                workdir = work / f"{label}{n}"
                workdir.mkdir()
                with contextlib.ExitStack() as stack:
                    path, proxy = bn.rpc_proxy(stack, deployment, workdir, {})
                    _, url = stack.enter_context(bn.node_process(path, key, workdir, "n", None))
                    got = asyncio.run(one_round(dev.rpc, signer, url, proxy, args))
                out[label].append(got)
    print(json.dumps({"load": os.getloadavg(), "pairs": args.pairs, **out}))


if __name__ == "__main__":
    main()
