#!/usr/bin/env python3
"""The peers' check queue's own loop CPU per order (``sdex.gossip.checks.PeerChecks``), this
tree's against another checkout's, in one process, alternated (checks75).

The full path (``bench/checks75_held_read.py``) costs ~150 us an order with ±20% noise on a
loaded machine: too coarse for the queue's share. Here both trees' ``PeerChecks`` (the other
loaded from ``--old-root``'s file) run the same checks against an intake that does nothing
but answer: ``--senders`` peers each push ``--pushes`` checks of ``--chunk`` orders at once;
the old queue's intake answers a list after one loop turn (as ``submit_many_from_peer`` did),
the new one's yields each order's verdict after one loop turn (as ``submit_each_from_peer``
does, one async-generator hop an order more). Prints each round's us an order, then the
medians and their ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import time
from collections.abc import AsyncGenerator, Callable
from types import ModuleType
from typing import Any

from sdex.gossip import checks as new
from sdex.gossip.timing import CheckTiming


def load_old(root: str) -> ModuleType:
    path = Path(root) / "sdex" / "gossip" / "checks.py"
    spec = importlib.util.spec_from_file_location("old_checks", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["old_checks"] = mod  # (its dataclasses look themselves up there)
    spec.loader.exec_module(mod)
    return mod


async def old_submit(objs: list[object], senders: list[str]) -> list[str]:
    await asyncio.sleep(0)  # (the intake's one wait: its signatures' hand-over)
    return ["accepted" for _ in objs]


async def new_submit(
    objs: list[object], senders: list[str], reading: Callable[[], None]
) -> AsyncGenerator[tuple[int, str], None]:
    await asyncio.sleep(0)
    for i in range(len(objs)):
        yield i, "accepted"


async def one_round(mod: ModuleType, submit: Any, args: argparse.Namespace) -> float:
    hooks = mod.CheckHooks(
        submit=submit,
        banned=lambda _s: False,
        judge=lambda _c, _v: None,
        penalize=lambda _s, _n: None,
        chunk=lambda: args.chunk,
        timing=CheckTiming(),
    )
    q = mod.PeerChecks(hooks)
    orders: list[object] = [{"i": i} for i in range(args.chunk)]
    n = args.senders * args.pushes * args.chunk
    t0 = time.thread_time()
    got = await asyncio.gather(
        *(
            q.run(f"peer-{s}", s * args.pushes + p, orders)
            for s in range(args.senders)
            for p in range(args.pushes)
        )
    )
    us = 1e6 * (time.thread_time() - t0) / n
    if sum(len(r[0]) for r in got) != n:
        raise RuntimeError("verdicts missing")
    return us


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old-root", required=True)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--pushes", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    old = load_old(args.old_root)
    out: dict[str, list[float]] = {"old": [], "new": []}

    async def run() -> None:
        for r in range(args.rounds + 1):
            for name, mod, submit in (("old", old, old_submit), ("new", new, new_submit))[
                :: 1 if r % 2 else -1
            ]:
                us = await one_round(mod, submit, args)
                if r:  # (the first: warm-up)
                    out[name].append(round(us, 2))

    asyncio.run(run())
    med = {k: statistics.median(v) for k, v in out.items()}
    print(json.dumps({"us_per_order": out, "median": med, "new_over_old": round(
        med["new"] / med["old"], 3), "loadavg": os.getloadavg()}))  # fmt: skip


if __name__ == "__main__":
    main()
