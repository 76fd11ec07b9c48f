#!/usr/bin/env python3
"""What a group of peers' orders costs the check queue (``sdex.gossip.checks.PeerChecks``)
by how many checks wait, this tree's queue against the reference tree's, in one process.

For each queue length ``Q`` in ``WAITING``: a first check holds the intake; ``Q`` more,
each of ``intake_chunk`` (32) orders, queue behind it; the intake is released and answers at
once (no work of its own: what is measured is the queue's), and the queue drains, one
check a group. Figures: ``group_us`` (the thread's CPU a group, from the release until every
check has its verdicts, its tasks' wake-ups included) and ``leave_us`` (the CPU a waiting
check that goes away costs: ``Q`` queued, then each cancelled, the newest first, the queue
held). A warm-up of each side first. The
reference's ``checks.py`` (``--ref-root``, e.g. /work/main) is loaded beside this tree's
(the rest of the package this tree's: only the queue differs); the two alternate,
``--rounds`` rounds; [median, min, max].

Run: PYTHONPATH=$PWD .venv/bin/python bench/gossip69_check_queue.py --ref-root /work/main
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import sdex.gossip.checks as this_checks
from sdex.gossip.timing import CheckTiming

WAITING = (32, 512, 4096)
"""Queue lengths measured (4,096: ``max_http``, the pushes the node serves at once)."""
CHUNK = 32


def load(root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("ref_checks", root / "sdex/gossip/checks.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ref_checks"] = mod  # (its dataclasses look their module up)
    spec.loader.exec_module(mod)
    return mod


async def drain(mod: Any, waiting: int, leave: bool) -> float:
    """CPU seconds a group (or, ``leave``, a waiting check that goes away)."""
    gate = asyncio.Event()
    calls = 0

    async def submit(objs: list[object], senders: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
        return ["accepted"] * len(objs)

    hooks = mod.CheckHooks(
        submit=submit,
        banned=lambda _s: False,
        judge=lambda _i, _v: None,
        penalize=lambda _s, _n: None,
        chunk=lambda: CHUNK,
        timing=CheckTiming(),
    )
    queue = mod.PeerChecks(hooks)
    orders: list[object] = list(range(CHUNK))
    first = asyncio.create_task(queue.run("a", 0, orders))
    while calls < 1:
        await asyncio.sleep(0)
    rest = [asyncio.create_task(queue.run("a", i, orders)) for i in range(1, waiting + 1)]
    while len(queue._queue) < waiting + 1:
        await asyncio.sleep(0)
    if leave:
        cpu = time.thread_time()
        for t in reversed(rest):  # (the newest first: each the farthest from the head)
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        spent = (time.thread_time() - cpu) / waiting
        gate.set()
        await first
        return spent
    cpu = time.thread_time()
    gate.set()
    await asyncio.gather(first, *rest)
    return (time.thread_time() - cpu) / waiting


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--ref-root", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sides = {"this": this_checks, "reference": load(args.ref_root.resolve())}
    runs: dict[str, dict[str, list[float]]] = {s: {} for s in sides}
    for mod in sides.values():  # (a warm-up of each, not counted)
        asyncio.run(drain(mod, WAITING[-1], False))
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(sides)[::-1]
        for q in WAITING:
            for side in order:
                for name, leave in (("group_us", False), ("leave_us", True)):
                    us = asyncio.run(drain(sides[side], q, leave)) * 1e6
                    runs[side].setdefault(f"{name}@{q}", []).append(us)
    out: dict[str, Any] = {"chunk": CHUNK, "rounds": args.rounds}
    for side, figs in runs.items():
        out[side] = {
            k: [round(statistics.median(v), 1), round(min(v), 1), round(max(v), 1)]
            for k, v in figs.items()
        }
    out["this/reference"] = {
        k: round(statistics.median(v) / statistics.median(runs["reference"][k]), 3)
        for k, v in runs["this"].items()
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
