"""What ``sdex.chain.arpcturns.Turns`` costs a turn's end with many reads waiting (peers79;
turns80: against the walk it was, ``tests.turnswalk.WalkTurns``, in the same run).

Each turn's end serves the waiting calls (``Turns._serve``): at the ceiling of peers' pending
reads (``reads_pending``), ~1,600 verdict reads may wait. N calls wait, each a maker's read
from one of a few submitters (``ReadKeys.keys``: maker, submitter, pool), and drain through
the 4 connections, each read one loop turn; the loop CPU a call costs, at each N, of the
walk and of the indexed turns alternated (which goes first swapped each round).
``--spread K``: instead, each read asks for 1-3 of K keys at random, 2 turns each (reads
parked on many keys: what a pass of the indexed turns looks at grows with them). Prints
JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time

from sdex.chain.arpcturns import Turns
from sdex.ingest.readturns import MAKER_READS, ReadKeys, one_of
from tests.turnswalk import WalkTurns

KINDS: dict[str, type[Turns] | type[WalkTurns]] = {"walk": WalkTurns, "indexed": Turns}


def keys_of(readkeys: ReadKeys, n: int) -> list[list[str]]:
    """N reads' keys: makers of their own, a fifth fresh (the pool), from 8 submitters."""
    out = []
    for i in range(n):
        who = f"10.0.{i % 8}.1" if i % 3 else one_of("(new)", f"(new) host{i % 4}")
        out.append(readkeys.keys([f"0x{i:040x}"], who))
    return out


def spread_keys(n: int, spread: int) -> list[list[str]]:
    """N reads' keys: 1-3 of ``spread`` keys each (the same for every run of a size)."""
    rng = random.Random(n)
    names = [f"k{j}" for j in range(spread)]
    return [rng.sample(names, rng.choice((1, 2, 3))) for _ in range(n)]


async def drain(
    kind: type[Turns] | type[WalkTurns], n: int, spread: int
) -> tuple[float, list[int]]:
    """CPU seconds a call of ``n`` waiting calls takes to go through (each read one turn),
    and the order they went in."""
    rk = ReadKeys(recorded=lambda m: int(m, 16) % 5 != 0)
    turns = kind(MAKER_READS, rk.limit) if not spread else kind(2)
    keys = keys_of(rk, n) if not spread else spread_keys(n, spread)
    gate = asyncio.Event()
    went: list[int] = []

    async def read(i: int, keys: list[str]) -> None:
        async with turns.turns(keys):
            went.append(i)
            await gate.wait()
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(read(i, k)) for i, k in enumerate(keys)]
    for _ in range(3):
        await asyncio.sleep(0)
    t0 = time.process_time()
    gate.set()
    await asyncio.gather(*tasks)
    return (time.process_time() - t0) / n, went


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", default="50,400,1600", help="waiting calls, comma-separated")
    ap.add_argument("--spread", type=int, default=0, help="random keys of so many (0: ReadKeys')")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    us: dict[str, dict[int, list[float]]] = {k: {n: [] for n in sizes} for k in KINDS}
    same_order = True
    loads = [os.getloadavg()[0]]
    for r in range(a.rounds):  # (alternated: the machine is noisy)
        for n in sizes:
            kinds = list(KINDS) if r % 2 == 0 else list(reversed(KINDS))
            went = {}
            for kind in kinds:
                cpu, went[kind] = asyncio.run(drain(KINDS[kind], n, a.spread))
                us[kind][n].append(cpu * 1e6)
            same_order &= went["walk"] == went["indexed"]
        loads.append(os.getloadavg()[0])
    small = sizes[0]
    print(
        json.dumps(
            {
                "us_a_call": {
                    k: {n: [round(x, 1) for x in sorted(v)] for n, v in by.items()}
                    for k, by in us.items()
                },
                "over_smallest": {
                    k: {
                        n: sorted(round(b / s, 2) for s, b in zip(by[small], v, strict=True))
                        for n, v in by.items()
                    }
                    for k, by in us.items()
                },
                "indexed_over_walk": {
                    n: sorted(
                        round(i / w, 3)
                        for w, i in zip(us["walk"][n], us["indexed"][n], strict=True)
                    )
                    for n in sizes
                },
                "same_order": same_order,
                "spread": a.spread,
                "loadavg_1min": [round(x, 1) for x in loads],
            }
        )
    )


if __name__ == "__main__":
    main()
