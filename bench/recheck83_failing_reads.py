#!/usr/bin/env python3
"""The node's cost at each block while the chain read of its orders due a recheck fails each
time: ``--orders`` real signed orders stored closed ``filled`` and every one due a recheck,
as a kill leaves them (recheck80's start, of makers the chain never saw), the node behind a
loopback proxy that answers every ``getOrderStates`` call with a JSON-RPC error, so none of
them is ever judgeable. Then
``--blocks`` blocks mined one at a time, each waited for at the node (applied, and the
recheck's pass it started through).

Reported: the loop thread's CPU per block (median, max and sum over the blocks: the recheck's
read tries and walks of the waiting orders, and the block's own apply), its longest turn, the
``getOrderStates`` calls the proxy failed, and the orders loaded back from the store
(``registry.lookups``). ``--grace S`` (recheck84): the node's ``closed_grace``, so the closed
records leave memory between the blocks (the default, 10 s, lets a run see it once or not).
Run it from the tree to measure (``bench/http_modes.py`` puts its own tree first on
``sys.path``; old and new alternated by the caller, each its own devnet).

Run: PYTHONPATH=$PWD .venv/bin/python bench/recheck83_failing_reads.py [--orders N] [--blocks B]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import json
import os
from dataclasses import replace
from typing import Any

import node as nb
from http_modes import devnet_node
from recheck80_block_turns import serve_once, spin
from replay80_recheck_turns import mark
from review73_rejudge_walk import fill

import sdex
from sdex.chain.rpc import Rpc
from sdex.keccak import keccak
from sdex.node.main import serve
from sdex.signature import address_of
from tests.test_recheck83_backoff import failing_state_reads


async def run(cfg: Any, upstream: str, blocks: int, failed: Any) -> dict[str, Any]:
    rpc = Rpc(upstream)
    per: list[float] = []
    turns: list[float] = []
    async with serve(cfg) as node:
        due_at_start = len(node._recheck)
        reads_at_start, loads_at_start = failed.failed, node.registry.lookups
        for _ in range(blocks):
            cpus: list[float] = []
            ticker = asyncio.create_task(spin(cpus))
            head = node.mirror.head.number if node.mirror.head is not None else -1
            await asyncio.to_thread(rpc.call, "hardhat_mine", "0x1")
            async with asyncio.timeout(60):
                while node.mirror.head is None or node.mirror.head.number <= head:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0)
                while node._draining is not None and not node._draining.done():
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            ticker.cancel()
            per.append(sum(cpus))
            turns.append(max(cpus, default=0.0))
        due_at_end, loads_at_end = len(node._recheck), node.registry.lookups
    ms = sorted(round(p * 1000, 1) for p in per)
    return {
        "due_at_start": due_at_start,
        "due_at_end": due_at_end,
        "blocks": blocks,
        "cpu_ms_per_block_median": ms[len(ms) // 2],
        "cpu_ms_per_block_max": ms[-1],
        "cpu_ms_all_blocks": round(sum(per) * 1000, 1),
        "turn_max_ms": round(max(turns) * 1000, 1),
        "reads_failed_during_blocks": failed.failed - reads_at_start,
        "store_loads_during_blocks": loads_at_end - loads_at_start,
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=50_000)
    ap.add_argument("--blocks", type=int, default=32)
    ap.add_argument("--grace", type=float, default=None, help="the node's closed_grace (s)")
    args = ap.parse_args()
    with devnet_node("sdex-recheck83-") as (_, signer, cfg):
        asyncio.run(serve_once(cfg))  # (the store made, empty: its schema and identity)
        # makers the chain never saw (keys made here): the mirror holds none of their funds
        signer.keys = [keccak(b"recheck83 bench %d" % k) for k in range(nb.OPERATOR)]
        signer.addresses = [address_of(k).lower() for k in signer.keys]
        fill(cfg.db, signer.resting(args.orders, list(range(nb.OPERATOR))))
        mark(cfg.db, True)
        with failing_state_reads(cfg.rpc) as (url, failed):
            failed.on.set()
            grace = {} if args.grace is None else {"closed_grace": args.grace}
            out = asyncio.run(run(replace(cfg, rpc=url, **grace), cfg.rpc, args.blocks, failed))
    tree = str(Path(sdex.__file__).parent.parent)
    print(json.dumps({"tree": tree, "orders": args.orders, "grace": args.grace, **out}), flush=True)


if __name__ == "__main__":
    main()
