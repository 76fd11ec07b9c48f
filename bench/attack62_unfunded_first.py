"""``UnfundedMakers.first`` past ``max_unfunded`` with M makers that trade (an order each
that can trade now) holding more ``unfunded`` orders than the makers that do not (attack62):
main set each of them aside and back on every call, O(M log M) a call; now once. Each
step: a new maker's order becomes ``unfunded``, ``first(1)`` names one to close, it closes
(``discard``), and one trading maker is ``touch``ed (an order of its opened or closed;
the reference has no such call); the first step untimed. Both trees (``--ref-root``),
alternated. Prints JSON: microseconds a step by M.

    PYTHONPATH=$PWD .venv/bin/python bench/attack62_unfunded_first.py --ref-root /work/main
"""

from __future__ import annotations

import gc
import json
import time

from bench.benchlib import machine, measure_args, measured_rounds, spreads
from sdex.node.unfundedq import UnfundedMakers

MAKERS = (1_000, 10_000, 30_000)
IDLE = 2_000
"""Makers holding one ``unfunded`` order each and nothing that trades (the first to lose)."""
STEPS = 200


def step_us(m: int) -> float:
    trading = {f"t{i}" for i in range(m)}
    q = UnfundedMakers(trading.__contains__)
    for i in range(m):  # (two each: they hold the most, and lose last)
        q.add(f"t{i}", b"t%d-0" % i)
        q.add(f"t{i}", b"t%d-1" % i)
    maker_of: dict[bytes, str] = {}
    for i in range(IDLE):
        maker_of[b"k%d" % i] = f"k{i}"
        q.add(f"k{i}", b"k%d" % i)
    touch = getattr(q, "touch", None)
    makers = sorted(trading)
    gc.collect()
    began = 0.0
    for i in range(-1, STEPS):  # (step -1 untimed: the first set-aside, once in either tree)
        if i == 0:
            began = time.perf_counter()
        maker_of[b"n%d" % i] = f"n{i}"
        q.add(f"n{i}", b"n%d" % i)
        (h,) = q.first(1)
        q.discard(maker_of.pop(h), h)
        if touch is not None:
            touch(makers[i % m])
    took = time.perf_counter() - began
    assert len(q.of) == m + IDLE, len(q.of)  # (each step closed an idle maker's, none traded)
    return round(took / STEPS * 1e6, 2)


def measure() -> dict[str, float]:
    gc.disable()
    return {f"step_us_m{m}": step_us(m) for m in MAKERS}


def main() -> None:
    args = measure_args(__doc__ or "", 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    print(json.dumps({"machine": machine(), "spreads": spreads(runs), "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
