#!/usr/bin/env python3
"""The chain mirror's memory per order the chain filled, in one process, with a real store.

``--blocks`` blocks of ``--fills`` fills each (each of a new order hash, as the chain's
history is) are applied to a ``Mirror`` as the watcher does (each block kept for undo, the
oldest leaving the ``--depth`` window), and the mirror's changes saved to a SQLite store
after each block (then, where the checkout has it, the saved marks leave memory). The
Python heap's growth under tracemalloc per filled order, past a warm-up of ``--depth``
blocks; the time per block (apply + save), and a mirror read (``filled_of``) of a hash
filled long ago and of one never seen. ``--root DIR`` runs another checkout's ``sdex`` (a
before/after in the same minutes: run this file for both, alternated). One JSON line.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # before any ``sdex`` import
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

from sdex.chain import Exchange, FillEvent  # noqa: E402
from sdex.chain.rpc import Rpc  # noqa: E402
from sdex.mirror import Header, Mirror  # noqa: E402
from sdex.mirror.own import OwnReceipt  # noqa: E402
from sdex.order import Domain  # noqa: E402
from sdex.store import ChainIdentity, Store  # noqa: E402

EXCHANGE = "0x" + "ee" * 20
MAKER = "0x" + "11" * 20


def fill(n: int, block: int) -> FillEvent:
    h = n.to_bytes(32, "big")
    return FillEvent(h, MAKER, MAKER, 10**18, 3 * 10**9, MAKER, 0, block, f"0x{n:064x}", 0)


async def run(args: argparse.Namespace, db: Path) -> dict[str, object]:
    m = Mirror(Exchange(Rpc("http://127.0.0.1:9"), EXCHANGE), [], depth=args.depth)
    store = Store(db, ChainIdentity(31337, EXCHANGE, "0x" + "00" * 32), Domain(31337, EXCHANGE))
    bounded = hasattr(m, "marks")
    if bounded:
        m.marks.lookup = store.mirror_order_now
    n = 0
    parent = "0x" + "00" * 32

    async def block(number: int) -> None:
        nonlocal n, parent
        fills = tuple(fill(n + i, number) for i in range(args.fills))
        n += args.fills
        h = Header(number, f"0x{number:064x}", parent, number)
        parent = h.hash
        own = OwnReceipt(f"0x{number:064x}", h.hash, number, fills, (), frozenset())
        m.apply(h, [], h, [own])
        orders, makers, funds = m.take_dirty()
        await store.save_mirror((number, h.hash, number), orders, makers, funds)
        if bounded:
            m.marks.evict(m.dirty_orders)

    tracemalloc.start()  # (before the warm-up: what it allocated and later freed counts)
    for b in range(1, args.depth + 1):  # warm-up: the window full
        await block(b)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    start = n
    for b in range(args.depth + 1, args.depth + 1 + args.blocks):
        await block(b)
    spent = time.perf_counter() - t0
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    filled = n - start
    reads = 2000
    old = [fill(i, 0).order_hash for i in range(reads)]
    new = [(10**9 + i).to_bytes(32, "big") for i in range(reads)]
    times = {}
    for name, hashes in (("readFilledUs", old), ("readUnknownUs", new)):
        t = time.perf_counter()
        for h in hashes:
            m.filled_of(h) if bounded else m.filled.get(h, 0)
        times[name] = round((time.perf_counter() - t) / reads * 1e6, 2)
    store.close()
    return {
        "root": str(ROOT),
        "filledOrders": filled,
        "bytesPerFilledOrder": round(grown / filled, 1),
        "heapGrowthMiB": round(grown / 2**20, 2),
        "inMemory": len(m.filled),
        "blockMs": round(spent / args.blocks * 1e3, 3),
        **times,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--blocks", type=int, default=400)
    p.add_argument("--fills", type=int, default=250)
    p.add_argument("--depth", type=int, default=128)
    p.add_argument("--root", default=str(ROOT))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(asyncio.run(run(args, Path(d) / "m.db"))))


if __name__ == "__main__":
    main()
