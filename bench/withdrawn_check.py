#!/usr/bin/env python3
"""The settler's withdrawn check alone (``NodeRecords._withdrawn``: an order of a match
cancelled since, or expiring before its settlement can land), µs a match over a batch of
``--batch`` matches (a backlog batch on anvil holds ~110), none withdrawn: this tree's
against another's (``--root DIR``, default ``/work/main``), each in its own process,
alternated, thread CPU, best of 7 repeats. The settler runs it twice a batch (as the batch
forms and at its signature). anvil65: main read the chain's clock once a match, a batch now.

``python bench/withdrawn_check.py [--rounds 3] [--root /work/main]``; prints JSON.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def measure(batch: int) -> dict[str, Any]:
    """In this process: the check of ``sdex`` as ``sys.path`` finds it."""
    from sdex.model import OrderStatus
    from sdex.node import records

    cls = next(c for c in vars(records).values() if isinstance(c, type) and "_withdrawn" in vars(c))
    now = int(time.time())

    def side(i: int) -> types.SimpleNamespace:
        order = types.SimpleNamespace(
            expiry=now + 3600, salt=i, maker="0x%040x" % (i + 1), maker_amount=10**18
        )
        return types.SimpleNamespace(hash=os.urandom(32), order=order)

    matches = [
        types.SimpleNamespace(resting=side(2 * i), incoming=side(2 * i + 1)) for i in range(batch)
    ]
    recs = {
        s.hash: types.SimpleNamespace(cancel_signature=None, status=OrderStatus.OPEN)
        for m in matches
        for s in (m.resting, m.incoming)
    }
    zero = types.SimpleNamespace(value=0.0)
    node = types.SimpleNamespace(
        records=recs,
        mirror=types.SimpleNamespace(cancelled=set(), min_salt={}, filled={}),
        latest_timestamp=now,
        lead=zero,
        pending_lead=0.0,
        spacing=types.SimpleNamespace(value=0),
        watcher=types.SimpleNamespace(latest_timestamp=now, lead=zero),
    )
    for name in ("chain_time", "soonest_landing", "cancelled_on_chain", "gone_on_chain"):
        if hasattr(cls, name):  # (gone_on_chain: review67's, on main since 0beb81d)
            setattr(node, name, types.MethodType(getattr(cls, name), node))
    check = cls._withdrawn
    per_batch = "batch" in inspect.signature(check).parameters

    def run() -> object:
        if per_batch:
            return check(node, matches)
        return [i for i, m in enumerate(matches) if check(node, m)]

    best = float("inf")
    for _ in range(7):
        t = time.thread_time()
        for _ in range(300):
            run()
        best = min(best, (time.thread_time() - t) / 300 / batch * 1e6)
    return {"per_batch": per_batch, "us_a_match": round(best, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=110)
    ap.add_argument("--root", type=Path, default=Path("/work/main"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.batch)))
        return
    sides = {"this": ROOT, "reference": args.root.resolve()}
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        got: dict[str, Any] = {}
        for name in ("this", "reference") if r % 2 == 0 else ("reference", "this"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--batch", str(args.batch)],
                env={**os.environ, "PYTHONPATH": str(sides[name])},
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            got[name] = json.loads(out.stdout)
        rounds.append(got)
    this = sorted(g["this"]["us_a_match"] for g in rounds)
    ref = sorted(g["reference"]["us_a_match"] for g in rounds)
    print(json.dumps({
        "batch": args.batch,
        "rounds": rounds,
        "median_us_a_match": {"this": this[len(this) // 2], "reference": ref[len(ref) // 2]},
        "ratio_this_over_reference": round(this[len(this) // 2] / ref[len(ref) // 2], 3),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
