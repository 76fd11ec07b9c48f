#!/usr/bin/env python3
"""What a walk costs past N resting orders it may not take (walk46): orders restricted to
another taker (``Order.taker``), priced across the book.

Such an order is skipped by every walk that meets it (``sdex.matching.walk.walk``: the taker
restriction), and rests at any price, crossing included: the walk of the order that rests it
skips the public orders it meets, and the public orders that come later skip it. So N of them
(each needs only the node's minimum of the token it sells in its maker's balance, 1,000 per
maker: ``Limits.max_orders_per_maker``) are looked at by every order that crosses them.

For N in ``--ns``, two layouts: N restricted asks at one level, and each at its own level.
Measured: (a) ``walk``: one IOC bid that crosses them all (and nothing it may take: it trades
nothing, the book is unchanged), the median over ``--rounds`` rounds of ``--walks`` walks, in
us per walk; (b) ``uncross``: with ``--bids`` public bids resting across them (they came after
and skipped them), one ``uncross`` with ``may_match`` (the node's call, after every block and
every CROSS_GRACE/4), in ms. Each tree runs in its own process (``PYTHONPATH``: this
worktree's, and the reference's, ``--reference``, main's by default), alternating which goes
first; both print whether the compiled book runs.

``--takers K``: the asks name K distinct takers in turn (book49 rests them in K private
ladders, one per taker, which ``uncross`` looks at each).

Prints one JSON line: per layout and N, each tree's figures and their ratios.

Run: PYTHONPATH=$PWD .venv/bin/python bench/walk46_restricted_walk.py [--ns 1,10,100,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import ROOT, alternated, us_per_call


def child(
    n: int, one_level: bool, walks: int, rounds: int, bids: int, takers_n: int = 1
) -> dict[str, Any]:
    from sdex.book import OrderBook, Side, native
    from sdex.matching import MatchingEngine, Outcome, TimeInForce
    from sdex.order import ZERO_ADDRESS, Order, SignedOrder

    base, quote = "0x" + "ba" * 20, "0x" + "90" * 20
    # the takers the asks are restricted to (in turn): addresses that never trade
    nobodies = ["0x" + f"{0x3300000 + k:040x}" for k in range(max(takers_n, 1))]
    takers = ["0x" + f"{0x4400 + k:040x}" for k in range(bids + 1)]
    book = OrderBook([(base, quote)], default_funds=None)
    engine = MatchingEngine(book)
    salt = iter(range(1, 10**9))

    def signed(o: Order) -> SignedOrder:  # (a distinct hash each: not the order's, unsigned)
        return SignedOrder(o, bytes(65), next(salt).to_bytes(32, "big"))

    for k in range(n):  # 1,000 per maker (the node's per-maker cap)
        maker = "0x" + f"{0x1100000 + k // 1000:040x}"
        q = 100 if one_level else 100 + k  # 1 BASE for q QUOTE: 1.00 and up
        nobody = nobodies[k % len(nobodies)]
        o = Order(maker, nobody, base, quote, 100, q, ZERO_ADDRESS, 0, 2**40, next(salt))
        assert engine.submit(signed(o), 1, TimeInForce.GTC).outcome is Outcome.RESTED
    levels = len(book.pair(base, quote).depth(Side.ASK, 10**7))
    top = 100 + n + 1000  # above every ask

    def public_bid(taker: str) -> SignedOrder:  # 1 BASE for ``top`` QUOTE: crosses them all
        return signed(Order(taker, ZERO_ADDRESS, quote, base, top, 100, ZERO_ADDRESS, 0, 2**40, 0))

    times = us_per_call(
        lambda so: engine.submit(so, 1, TimeInForce.IOC),
        ([public_bid(takers[-1]) for _ in range(walks)] for _ in range(rounds)),
        lambda r: not r.matches and r.outcome is Outcome.DROPPED,  # type: ignore[attr-defined]
    )
    for k in range(bids):  # public bids across every ask: they skip them and rest
        assert engine.submit(public_bid(takers[k]), 1, TimeInForce.GTC).outcome is Outcome.RESTED
    asked = 0

    def may_match(resting: object, incoming: object) -> bool:
        nonlocal asked
        asked += 1
        return True

    began = time.perf_counter()
    assert engine.uncross(now=1, may_match=may_match) == []
    uncross_ms = (time.perf_counter() - began) * 1e3
    return {
        "us_per_walk": statistics.median(times),
        "uncross_ms": uncross_ms,
        "uncross_asked": asked,  # pairs ``may_match`` was asked about: the ones that may trade
        "levels": levels,
        "compiled": native.ACTIVE,
    }


def run(tree: Path, n: int, one_level: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One child process in ``tree`` (its own ``sdex`` first on the path, compiled if built)."""
    argv = ["--child", str(n), "--bids", str(args.bids), "--walks", str(args.walks)]
    argv += ["--rounds", str(args.rounds), "--takers", str(args.takers)]
    argv += ["--one-level"] if one_level else []
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("SDEX_PURE", None)
    done = subprocess.run(
        [sys.executable, __file__, *argv], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def case(layout: str, n: int, got: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each tree's median figures for one layout and N, and their ratios (this / reference)."""
    out: dict[str, Any] = {"layout": layout, "n": n, "levels": got["this"][0]["levels"]}
    out["compiled"] = {name: runs[0]["compiled"] for name, runs in got.items()}
    for key in ("us_per_walk", "uncross_ms"):
        mid = {name: statistics.median(r[key] for r in runs) for name, runs in got.items()}
        out[key] = {name: round(v, 3) for name, v in mid.items()}
        out[key]["ratio"] = round(mid["this"] / mid["reference"], 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ns", default="1,10,100,1000,10000")
    ap.add_argument("--reference", type=Path, default=Path("/work/main"))
    ap.add_argument("--walks", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bids", type=int, default=100, help="public bids across, for uncross")
    ap.add_argument("--pairs", type=int, default=2, help="A/B pairs of runs per case")
    ap.add_argument("--takers", type=int, default=1, help="distinct takers the asks name")
    ap.add_argument("--child", type=int, default=None)
    ap.add_argument("--one-level", action="store_true")
    args = ap.parse_args()
    if args.child is not None:
        got = child(args.child, args.one_level, args.walks, args.rounds, args.bids, args.takers)
        print(json.dumps(got))
        return
    variants = [("this", ROOT), ("reference", args.reference.resolve())]
    cases = []
    for layout in ("one level", "a level each"):
        for n in (int(x) for x in args.ns.split(",")):
            got: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
            for k in range(args.pairs):  # which tree goes first alternates
                for name, tree in alternated(variants, k):
                    got[name].append(run(tree, n, layout == "one level", args))
            cases.append(case(layout, n, got))
            print(json.dumps(cases[-1]), file=sys.stderr)
    out = {"reference": str(args.reference), "bids": args.bids, "takers": args.takers}
    print(json.dumps({**out, "cases": cases}))


if __name__ == "__main__":
    main()
