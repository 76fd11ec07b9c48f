#!/usr/bin/env python3
"""A kept cancel's keep when the table is full: the eviction's cost, this tree against a
reference.

``OrphanCancels`` at its defaults (20,000 in all, 1,000 a sender) filled by wallets' kept
cancels from ``CLIENTS`` clients, then ``KEEPS`` more kept, each evicting one (review68: the
class's biggest count's oldest, found by ``_Sizes``; main: the class's oldest). Figures:
``keep_us`` (the mean of the keeps past full, each on the loop), best of ``REPEAT``. Each side
in a process of its own (``--ref-root``: main), ``--rounds`` rounds alternated; then
[median, min, max] of the rounds.

Run: PYTHONPATH=$PWD .venv/bin/python bench/review68_kept_full.py --ref-root /work/main
"""

from __future__ import annotations

import sys
from pathlib import Path

import sdex  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parent))

import os
import time

from bench.benchlib import measure_args, measured_rounds, print_ab
from sdex.node.orphans import TOTAL, OrphanCancels

CLIENTS = 25
KEEPS = 20_000
REPEAT = 3


def measure() -> dict[str, float]:
    best = float("inf")
    for _ in range(REPEAT):
        oc = OrphanCancels()
        sig = os.urandom(65)
        buckets = [f"wallet:203.0.113.{i}" for i in range(CLIENTS)]
        for i in range(TOTAL):
            oc.keep(os.urandom(32), sig, buckets[i % CLIENTS], buckets[i % CLIENTS], 0.0)
        hashes = [os.urandom(32) for _ in range(KEEPS)]
        start = time.perf_counter()
        for i, h in enumerate(hashes):
            oc.keep(h, sig, buckets[i % CLIENTS], buckets[i % CLIENTS], 1.0)
        best = min(best, (time.perf_counter() - start) / KEEPS)
        assert len(oc) == TOTAL
    return {"keep_us": round(best * 1e6, 3)}


def main() -> None:
    args = measure_args(__doc__ or "", 5, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    print_ab({"clients": CLIENTS, "keeps": KEEPS}, runs, ("keep_us",))


if __name__ == "__main__":
    main()
