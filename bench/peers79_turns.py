"""What ``sdex.chain.arpcturns.Turns`` costs a turn's end with many reads waiting (peers79).

Each turn's end serves the waiting calls (``Turns._serve``), a walk of all of them: at the
ceiling of peers' pending reads (``reads_pending``), ~1,600 verdict reads may wait. N calls
wait, each a maker's read from one of a few submitters (``ReadKeys.keys``: maker, submitter,
pool), and drain through the 4 connections, each read one loop turn; the loop CPU a call
costs at N over at a small N. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from sdex.chain.arpcturns import Turns
from sdex.ingest.readturns import MAKER_READS, ReadKeys, one_of


def keys_of(readkeys: ReadKeys, n: int) -> list[list[str]]:
    """N reads' keys: makers of their own, a fifth fresh (the pool), from 8 submitters."""
    out = []
    for i in range(n):
        who = f"10.0.{i % 8}.1" if i % 3 else one_of("(new)", f"(new) host{i % 4}")
        out.append(readkeys.keys([f"0x{i:040x}"], who))
    return out


async def drain(n: int) -> float:
    """CPU seconds a call of ``n`` waiting calls takes to go through (each read one turn)."""
    rk = ReadKeys(recorded=lambda m: int(m, 16) % 5 != 0)
    turns = Turns(MAKER_READS, rk.limit)
    gate = asyncio.Event()

    async def read(keys: list[str]) -> None:
        async with turns.turns(keys):
            await gate.wait()
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(read(k)) for k in keys_of(rk, n)]
    for _ in range(3):
        await asyncio.sleep(0)
    t0 = time.process_time()
    gate.set()
    await asyncio.gather(*tasks)
    return (time.process_time() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--small", type=int, default=50)
    ap.add_argument("--large", type=int, default=1600)
    a = ap.parse_args()
    small, large = [], []
    for _ in range(a.rounds):  # (alternated: the machine is noisy)
        small.append(asyncio.run(drain(a.small)))
        large.append(asyncio.run(drain(a.large)))
    ratios = sorted(b / s for s, b in zip(small, large, strict=True))
    print(
        json.dumps(
            {
                "us_a_call_small": [round(x * 1e6, 1) for x in sorted(small)],
                "us_a_call_large": [round(x * 1e6, 1) for x in sorted(large)],
                "large_over_small": [round(r, 2) for r in ratios],
                "small": a.small,
                "large": a.large,
                "loadavg": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
