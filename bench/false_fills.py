"""What the watcher's check for fills stored ahead of it (``sdex.watch.falsefills``) adds to
a poll: ``Store.remove_fills_except`` over one block holding ``per_block`` fills, all the
chain's (nothing to delete: the common case), against the write the poll makes anyway, the
same block's fills stored (``add_fills_async``, each new: the reference), interleaved on one
store of ``n`` fills, same run.

Run: PYTHONPATH=$PWD .venv/bin/python bench/false_fills.py [n] [rounds] [per_block]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.benchlib import machine
from sdex.order import Domain
from sdex.store import ChainIdentity, Store, StoredFill, fill_key

DOMAIN = Domain(31337, "0x" + "ab" * 20)
IDENTITY = ChainIdentity(31337, "0x" + "ab" * 20, "0x" + "cd" * 32)


def fill(block: int, i: int) -> StoredFill:
    tx = "0x" + f"{block:032x}{i:032x}"
    return StoredFill(
        (block * 100 + i).to_bytes(32, "big"), "0x" + "01" * 20, "0x" + "02" * 20,
        10**17, 300 * 10**6, "0x" + "00" * 20, 0, block, tx, i,
    )  # fmt: skip


async def run(n: int, rounds: int, per_block: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "b.db", IDENTITY, DOMAIN)
        try:
            blocks = n // per_block
            for b in range(0, blocks, 1000):
                top = min(blocks, b + 1000)
                store.add_fills([fill(x, i) for x in range(b, top) for i in range(per_block)])
            add, check = [], []
            for r in range(rounds):
                block = blocks + r
                rows = [fill(block, i) for i in range(per_block)]
                t = time.perf_counter()
                await store.add_fills_async(rows)
                add.append(time.perf_counter() - t)
                chain = {fill_key(f) for f in rows}
                t = time.perf_counter()
                gone = await store.remove_fills_except(block, block, chain)
                check.append(time.perf_counter() - t)
                assert not gone
        finally:
            store.close()
    a, c = statistics.median(add) * 1e6, statistics.median(check) * 1e6
    return {
        "fills_stored": n,
        "rounds": rounds,
        "fills_per_block": per_block,
        "store_block_fills_us_p50": round(a, 1),
        "check_block_fills_us_p50": round(c, 1),
        "check_over_store": round(c / a, 3),
        "machine": machine(),
    }


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    n, rounds, per_block = (args + [100_000, 400, 4][len(args) :])[:3]
    print(json.dumps(asyncio.run(run(n, rounds, per_block)), indent=1))


if __name__ == "__main__":
    main()
