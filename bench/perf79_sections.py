#!/usr/bin/env python3
"""Where a wallet order's CPU goes in one node, by function, without a profiler's per-call
overhead (perf79, issue 11).

``sections``: bench/http_modes.py's rounds (the node in this process, its HTTP client in a
subprocess, 48 in flight) with chosen functions of the intake path wrapped: each call's
thread CPU (``time.thread_time``) and wall time (``perf_counter``) added up. Printed as
JSON at the end: per function its calls and µs a call of each clock (a wrapper costs
~1 µs, counted in its callers). cProfile charges every call its own overhead (~1 µs), so a
path of ~300 calls an order reads ~2x its real CPU; these are the real pieces. Wall far
above CPU is the loop thread waiting (preempted, or the GIL taken by another thread).
``--root DIR`` runs another checkout's ``sdex`` (functions it lacks are left out).

``held``: ``sdex.mirror.own.Held.__contains__`` (asked once a wallet's order, in
``NodeStatus._mirror_funds``) against the ``any`` of a generator it was, alternated rounds,
µs a call.

Arguments after ``--`` go to bench/http_modes.py (``sections``)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if "--root" in sys.argv:  # before any ``sdex`` import
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import atexit  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import runpy  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
from typing import Any  # noqa: E402

WRAPPED = (
    ("sdex.sqlwriter", "Writer._hand_over"),
    ("sdex.node.intake", "NodeIntake._taken"),
    ("sdex.node.intake", "NodeIntake._accept"),
    ("sdex.node.intake", "NodeIntake._after_match"),
    ("sdex.node.intake", "NodeIntake._announce_if_resting"),
    ("sdex.node.intake", "own_crossing"),
    ("sdex.ingest.intake", "Intake.check_offchain"),
    ("sdex.ingest.intake", "Intake._after_ecdsa"),
    ("sdex.ingest.intake", "Intake.admit"),
    ("sdex.ingest.verify", "ecdsa_ok"),
    ("sdex.storeorders", "OrderWrites.add_order_async"),
    ("sdex.node.registry", "OrderRegistry.admit"),
    ("sdex.node.registry", "OrderRegistry.held"),
    ("sdex.node.status", "NodeStatus._mirror_funds"),
    ("sdex.node.views", "NodeViews.meta"),
    ("sdex.node.views", "NodeViews._submit_body"),
    ("sdex.node.held", "HeldOrders.publish"),
    ("sdex.node.records", "NodeState.times"),
    ("sdex.jsonio", "loads"),
    ("sdex.httpkit", "client_group"),
)


def wrap(acc: dict[str, list[float]], module: str, qual: str) -> None:
    """``module``'s ``qual`` (a function, or a class's method) timed into ``acc``."""
    owner: Any = importlib.import_module(module)
    *path, name = qual.split(".")
    for p in path:
        owner = getattr(owner, p)
    fn = getattr(owner, name)
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return  # (a coroutine's wall time is its waits: not timed)
    a = acc.setdefault(qual, [0, 0.0, 0.0])
    cpu, wall = time.thread_time, time.perf_counter

    @functools.wraps(fn)
    def timed(*args: Any, **kw: Any) -> Any:
        c0, w0 = cpu(), wall()
        try:
            return fn(*args, **kw)
        finally:
            a[0] += 1
            a[1] += cpu() - c0
            a[2] += wall() - w0

    setattr(owner, name, timed)


def sections(rest: list[str]) -> None:
    acc: dict[str, list[float]] = {}
    for module, qual in WRAPPED:
        with contextlib.suppress(ImportError, AttributeError):  # (another checkout's)
            wrap(acc, module, qual)

    @atexit.register
    def show() -> None:
        out = {
            k: {"calls": int(n), "cpu_us": round(1e6 * c / n, 2), "wall_us": round(1e6 * w / n, 2)}
            for k, (n, c, w) in acc.items()
            if n
        }
        print(json.dumps({"sdex": str(ROOT), "sections": out}, indent=1), flush=True)

    sys.argv = [str(BENCH / "http_modes.py"), *rest]
    sys.path.insert(0, str(BENCH))
    runpy.run_path(str(BENCH / "http_modes.py"), run_name="__main__")


def held(rounds: int) -> None:
    from sdex.mirror.own import Held

    h: Held[object] = Held(set(), {}, set())
    parts = h._parts
    key = ("0x" + "ab" * 20, "0x" + "cd" * 20)

    def before() -> bool:
        return any(key in p for p in parts)

    n = 100_000
    old: list[float] = []
    new: list[float] = []
    for _ in range(rounds):
        old.append(1e6 * timeit.timeit(before, number=n) / n)
        new.append(1e6 * timeit.timeit(lambda: key in h, number=n) / n)
    ratios = sorted(b / a for a, b in zip(old, new, strict=True))
    print(json.dumps({
        "held_contains_us": {"before": sorted(round(x, 3) for x in old),
                             "now": sorted(round(x, 3) for x in new)},
        "now_over_before": {"by_round": [round(r, 3) for r in ratios],
                            "median": round(statistics.median(ratios), 3)},
    }))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("sections", "held"))
    ap.add_argument("--root", help="run this checkout's sdex (default: this file's)")
    ap.add_argument("--rounds", type=int, default=9, help="held: alternated rounds")
    ap.add_argument("rest", nargs=argparse.REMAINDER, help="sections: -- http_modes.py's")
    args = ap.parse_args()
    if args.what == "held":
        held(args.rounds)
    else:
        rest = list(args.rest)
        if "--root" in rest:  # (REMAINDER took it too: read above, before any import)
            del rest[rest.index("--root") : rest.index("--root") + 2]
        sections([a for a in rest if a != "--"])


if __name__ == "__main__":
    main()
