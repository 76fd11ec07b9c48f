#!/usr/bin/env python3
"""Time to ready of a node restarted on a large store, this tree against a reference tree
(``--ref``: e.g. the tree before stored orders were judged from the saved mirror), in the
same run, alternated, each start on a fresh copy of one store.

The store is made once: ``--closed`` closed and ``--open`` open orders (real signed resting
orders of 19 makers) inserted as ``bench/startup_loop.py`` does (``fill``) into a store a
first start of this tree made; then a start of this tree, which reads them from the chain
(its mirror learns the makers' funds), one block mined and applied (the mirror saved with
its head), a stop: the store of a node that ran with those orders. Each round starts a
process of each tree (order rotated) on its own copy, from the spawn to the first
``/health`` 200 that is caught up (polled every 0.1 s). Prints a JSON line a round, then
the medians and new/ref.

Run: PYTHONPATH=$PWD .venv/bin/python bench/startup_mirror.py --ref /tmp/ref-tree
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import asyncio  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import node as nb  # noqa: E402
from benchlib import ab_parser, ab_variants, alternated  # noqa: E402
from startup_loop import fill  # noqa: E402

from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402


async def warm(cfg: NodeConfig, rpc: Any, first: bool) -> int:
    """Start this tree's node on ``cfg.db`` and stop it once its mirror is saved past a new
    block (``first``: the store's schema and checkpoint only). Its open orders held."""
    async with serve(cfg) as node:
        if first:
            return 0
        rpc.call("evm_mine")
        head = int(rpc.call("eth_blockNumber"), 16)
        deadline = time.monotonic() + 120
        while (a := node.watcher.applied) is None or a.number < head:
            assert time.monotonic() < deadline, "the mirror was not saved past the new block"
            await asyncio.sleep(0.05)
        return node.open_orders


def main() -> None:
    ap = ab_parser(__doc__, repeat=4, ref_help="the reference tree")
    ap.add_argument("--closed", type=int, default=90_000)
    ap.add_argument("--open", type=int, default=10_000)
    args = ap.parse_args()
    variants = ab_variants(args.ref)
    rows: dict[str, list[float]] = {v[0]: [] for v in variants}
    with nb.signed_devnet("sdex-startmirror-") as (work, dev, deployment, signer, key):
        assert dev.rpc is not None
        template = work / "template.db"
        raw_key = bytes.fromhex(key.removeprefix("0x"))
        cfg = NodeConfig.from_deployment(deployment, raw_key, template, port=nb.free_port())
        asyncio.run(warm(cfg, dev.rpc, first=True))
        fill(template, args.closed, signer.resting(args.open, list(range(nb.OPERATOR))))
        held = asyncio.run(warm(cfg, dev.rpc, first=False))
        print(json.dumps({"store": str(template), "open_held": held}), flush=True)
        for r in range(args.repeat):
            for name, root in alternated(variants, r):
                nb.NODE_ROOT = root
                run = f"{name}{r}"
                for suffix in ("", "-wal", "-shm"):
                    src = Path(str(template) + suffix)
                    if src.exists():
                        shutil.copy(src, work / f"{run}.db{suffix}")
                began = time.monotonic()
                with nb.node_process(work / "devnet.json", key, work, run, None):
                    took = time.monotonic() - began
                rows[name].append(took)
                said = [x for x in (work / f"{run}.log").read_text().splitlines()
                        if "node ready" in x]  # fmt: skip
                print(json.dumps({"round": r, name: round(took, 2), "log": said}), flush=True)
    med = {n: round(statistics.median(v), 2) for n, v in rows.items()}
    out: dict[str, Any] = {
        "ready_s": {n: [round(x, 2) for x in v] for n, v in rows.items()},
        "medians": med,
        "new/ref": round(med["new"] / med["ref"], 3),
        "pairs_new/ref": [round(n / r, 3) for n, r in zip(rows["new"], rows["ref"], strict=True)],
        "closed": args.closed,
        "open": args.open,
        "machine": nb.machine(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
