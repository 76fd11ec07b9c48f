#!/usr/bin/env python3
"""The event loop's turns at each block while many orders wait for the chain's word on a
recheck: ``--orders`` real signed orders stored closed ``filled`` (the devnet never filled
them) and every one due a recheck, as a kill leaves them (``bench/replay80_recheck_turns.py``'s
start); the start judges ``RECHECK_READS`` of them, the rest wait (the mirror has not their
state), read ``RECHECK_READS`` a block. Then ``--blocks`` blocks mined one at a time, each
waited for at the node.

Per block: the CPU of ``Node._persist_open`` (``persist_ms``: the recheck's walk, then the
registry's sync) and the loop thread's longest turn between that block's mining and its
apply (``turn_max_ms``); ``due``: orders still due after it. Run it with the tree to measure
on ``PYTHONPATH`` (old and new alternated by the caller, each its own devnet).

Run: PYTHONPATH=$PWD .venv/bin/python bench/recheck80_block_turns.py [--orders N] [--blocks B]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import node as nb
from http_modes import devnet_node
from replay80_recheck_turns import mark
from review73_rejudge_walk import fill

import sdex
from sdex.chain import OrderState
from sdex.chain.rpc import Rpc
from sdex.node import verdicts
from sdex.node.core import Node
from sdex.node.main import serve

PERSISTS: list[float] = []
_persist = Node._persist_open


def timed_persist(self: Node, read: Mapping[bytes, OrderState] = verdicts.NO_STATES) -> None:
    t = time.thread_time()
    try:
        _persist(self, read)
    finally:
        PERSISTS.append(time.thread_time() - t)


Node._persist_open = timed_persist  # type: ignore[method-assign]


async def spin(cpus: list[float]) -> None:
    """The loop thread's CPU in each of its iterations."""
    cpu = time.thread_time()
    while True:
        await asyncio.sleep(0)
        c = time.thread_time()
        cpus.append(c - cpu)
        cpu = c


async def run(cfg: Any, blocks: int) -> dict[str, Any]:
    rpc = Rpc(cfg.rpc)
    per: list[dict[str, Any]] = []
    async with serve(cfg) as node:
        due_at_start = len(node._recheck)
        for _ in range(blocks):
            cpus: list[float] = []
            ticker = asyncio.create_task(spin(cpus))
            PERSISTS.clear()
            head = node.mirror.head.number if node.mirror.head is not None else -1
            await asyncio.to_thread(rpc.call, "hardhat_mine", "0x1")
            async with asyncio.timeout(60):
                while node.mirror.head is None or node.mirror.head.number <= head or not PERSISTS:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            ticker.cancel()
            per.append(
                {
                    "persist_ms": round(max(PERSISTS) * 1000, 1),
                    "turn_max_ms": round(max(cpus, default=0.0) * 1000, 1),
                    "due": len(node._recheck),
                }
            )
    persist = sorted(p["persist_ms"] for p in per)
    turns = sorted(p["turn_max_ms"] for p in per)
    return {
        "due_at_start": due_at_start,
        "persist_ms_median": persist[len(persist) // 2],
        "persist_ms_max": persist[-1],
        "turn_max_ms_median": turns[len(turns) // 2],
        "turn_max_ms_max": turns[-1],
        "blocks": per,
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    bench_main(__doc__, "sdex-recheck80-", 8, run)


def bench_main(
    doc: str, prefix: str, blocks: int, run: Callable[[Any, int], Awaitable[dict[str, Any]]]
) -> None:
    """A recheck bench's command (``doc``: its docstring): ``--orders`` resting orders stored
    due a recheck in a devnet node's store (its files named ``prefix``), then ``run`` over
    ``--blocks`` blocks (``blocks`` by default); its figures printed as JSON."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=50_000)
    ap.add_argument("--blocks", type=int, default=blocks)
    args = ap.parse_args()
    with devnet_node(prefix) as (_, signer, cfg):
        asyncio.run(serve_once(cfg))  # (the store made, empty: its schema and identity)
        fill(cfg.db, signer.resting(args.orders, list(range(nb.OPERATOR))))
        mark(cfg.db, True)
        out = asyncio.run(run(cfg, args.blocks))
    tree = str(Path(sdex.__file__).parent.parent)
    print(json.dumps({"tree": tree, "orders": args.orders, **out}), flush=True)


async def serve_once(cfg: Any) -> None:
    async with serve(cfg):
        pass


if __name__ == "__main__":
    main()
