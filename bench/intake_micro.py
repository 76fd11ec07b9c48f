#!/usr/bin/env python3
"""In-process micro-benchmarks of two pieces of a node's per-order work (cpu29, issue 11),
each against what it replaced, alternated round by round in one process (a shared machine's
noise hits both sides alike); µs per order on the thread's CPU clock, GC off in a round.

- ``clocks``: ``forwardTiming``'s clocks for a peer's chunk of ``--chunk`` new orders: the
  old way (``handed_over`` per order: the thread's CPU clock and the wall clock read each
  time, ``last`` after each) against the new (``passed_on`` per order, ``mark`` once after
  the last); both with the chunk's ``start`` and ``add``, per order.
- ``text``: an accepted order's JSON text: ``encode_json`` (the C encoder) against
  ``sdex.ordertext.order_text`` (formatted directly, checked).

Prints one JSON object: per piece, each side's µs per order by round (sorted), and new ÷
old per round (sorted) with its median."""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdex.node.events import encode_json
from sdex.node.forwarding import ForwardTiming
from sdex.order import Order, SignedOrder
from sdex.ordertext import order_text

Piece = tuple[Callable[[], object], Callable[[], object], int]  # old, new, orders a call


def compared(pieces: dict[str, Piece], rounds: int, reps: int) -> dict[str, object]:
    """Each piece's old and new µs per order, alternated ``rounds`` times (``reps`` calls
    each), with their ratios: what this bench and ``cpu30_micro`` print per piece."""
    out: dict[str, object] = {}
    for name, (old, new, per) in pieces.items():
        a: list[float] = []
        b: list[float] = []
        for r in range(rounds):
            sides = [(old, a), (new, b)] if r % 2 == 0 else [(new, b), (old, a)]
            for fn, into in sides:
                into.append(_timed(fn, reps) / per)
        ratios = [y / x for x, y in zip(a, b, strict=True)]
        out[name] = {
            "old_us_per_order": sorted(round(x, 2) for x in a),
            "new_us_per_order": sorted(round(x, 2) for x in b),
            "new_over_old": sorted(round(x, 3) for x in ratios),
            "median_ratio": round(statistics.median(ratios), 3),
            "median_saved_us": round(statistics.median(a) - statistics.median(b), 2),
        }
    return out


def _timed(fn: Callable[[], object], reps: int) -> float:
    """µs of thread CPU per call of ``fn``."""
    gc.disable()
    try:
        t0 = time.thread_time()
        for _ in range(reps):
            fn()
        return (time.thread_time() - t0) / reps * 1e6
    finally:
        gc.enable()


def clocks(chunk: int) -> tuple[Callable[[], None], Callable[[], None], int]:
    fw = ForwardTiming()

    def old() -> None:
        started = fw.start()
        ended = fw.last()
        for _ in range(chunk):
            fw.handed_over()
            ended = fw.last()
        fw.add("peer", started, ended, chunk)

    def new() -> None:
        started = fw.start()
        through = 0
        for _ in range(chunk):
            fw.passed_on()
            through = fw.handed
        fw.add("peer", started, fw.mark(through), chunk)

    return old, new, chunk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--reps", type=int, default=2000, help="calls a side a round")
    ap.add_argument("--chunk", type=int, default=4, help="new orders in a peer's chunk")
    args = ap.parse_args()
    o = Order("0x" + "ab" * 20, "0x" + "00" * 20, "0x" + "cd" * 20, "0x" + "ef" * 20,
              10**18, 3 * 10**9, "0x" + "00" * 20, 0, 2**40, 2**200 + 12345)  # fmt: skip
    obj = SignedOrder(o, b"\x11" * 65, b"").to_json()
    assert order_text(obj) == encode_json(obj)
    pieces = {
        "clocks": clocks(args.chunk),
        "text": ((lambda: encode_json(obj)), (lambda: order_text(obj)), 1),
    }
    out: dict[str, object] = {"rounds": args.rounds, "reps": args.reps, "chunk": args.chunk}
    out.update(compared(pieces, args.rounds, args.reps))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
