#!/usr/bin/env python3
"""What an incoming order's walk costs past N all-or-nothing rests it cannot pay (book44).

An all-or-nothing rest (``Entry.aon``, dust38) that costs more than an incoming order has is
passed; the walk looked at each such rest in turn, so N of them (an attacker's: each needs
an on-chain partial fill and funding, then costs nothing more) made every crossing order's
walk O(N), on the node's event loop. Now a level of nothing but such rests is passed in O(1)
(``Level.aons``, ``Level.aon_least``).

For N in ``--ns``, two layouts: N rests at one level (alike), and N rests each at its own
level (the natural case: a rest's level is its cost's price). Measured: one IOC bid that
crosses them all and can pay none (it trades nothing, the book is unchanged), the median
over ``--rounds`` rounds of ``--walks`` walks, in us per walk. Each tree runs in its own
process (``PYTHONPATH``: this worktree's, and the reference's, ``--reference``, main's
by default), alternating which goes first; both print whether the compiled book runs.

Prints one JSON line: per layout and N, each tree's us per walk and their ratio.

Run: PYTHONPATH=$PWD .venv/bin/python bench/book44_aon_walk.py [--ns 1,10,100,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchlib import ROOT, us_per_call

M = 1_000_001  # an ask of M BASE for T QUOTE: its unit is all of it (gcd 1)
T = (3 * M + 1) // 2


def child(n: int, one_level: bool, walks: int, rounds: int) -> dict[str, Any]:
    from sdex.book import OrderBook, Side, native
    from sdex.matching import MatchingEngine, Outcome, TimeInForce
    from sdex.order import ZERO_ADDRESS, Order, SignedOrder

    base, quote = "0x" + "ba" * 20, "0x" + "90" * 20
    rester, taker = "0x" + "11" * 20, "0x" + "22" * 20
    book = OrderBook([(base, quote)], default_funds=None)
    engine = MatchingEngine(book)
    salt = iter(range(1, 10**9))

    def signed(o: Order) -> SignedOrder:
        k = next(salt)
        digest = (k * 0x9E3779B97F4A7C15F39CC0605CEDC834 + 7).to_bytes(32, "big")
        return SignedOrder(o, bytes(65), digest)

    for k in range(n):
        f = 40 if one_level else 2 * (k + 20)  # cost: 61 QUOTE and more
        o = Order(rester, ZERO_ADDRESS, base, quote, M, T, ZERO_ADDRESS, 0, 2**40, next(salt))
        r = engine.submit(signed(o), 1, TimeInForce.GTC, M - f)
        assert r.outcome is Outcome.RESTED
    levels = len(book.pair(base, quote).depth(Side.ASK, 10**7))
    batches = (
        [  # 30 QUOTE for 1 BASE: crosses them all, pays none
            signed(Order(taker, ZERO_ADDRESS, quote, base, 30, 1, ZERO_ADDRESS, 0, 2**40, k))
            for k in range(next(salt), next(salt) + walks)
        ]
        for _ in range(rounds)
    )
    times = us_per_call(
        lambda o: engine.submit(o, 1, TimeInForce.IOC),
        batches,
        lambda r: not r.matches and r.outcome is Outcome.DROPPED,  # type: ignore[attr-defined]
    )
    return {"us_per_walk": statistics.median(times), "levels": levels, "compiled": native.ACTIVE}


def run(tree: Path, n: int, one_level: bool, walks: int, rounds: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(n)]
    cmd += ["--walks", str(walks), "--rounds", str(rounds)]
    if one_level:
        cmd.append("--one-level")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("SDEX_PURE", None)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=tree)
    return dict(json.loads(out.stdout))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", default="1,10,100,1000,10000")
    ap.add_argument("--reference", default="/work/main")
    ap.add_argument("--walks", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=3, help="A/B pairs of runs per case")
    ap.add_argument("--child", type=int, default=None)
    ap.add_argument("--one-level", action="store_true")
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.one_level, args.walks, args.rounds)))
        return
    trees = {"this": ROOT, "reference": Path(args.reference)}
    out: dict[str, Any] = {"reference": str(trees["reference"]), "cases": []}
    for one_level in (True, False):
        for n in (int(x) for x in args.ns.split(",")):
            got: dict[str, list[dict[str, Any]]] = {"this": [], "reference": []}
            for k in range(args.pairs):  # alternate which tree goes first
                order = ("this", "reference") if k % 2 == 0 else ("reference", "this")
                for name in order:
                    got[name].append(run(trees[name], n, one_level, args.walks, args.rounds))
            this = statistics.median(g["us_per_walk"] for g in got["this"])
            ref = statistics.median(g["us_per_walk"] for g in got["reference"])
            out["cases"].append(
                {
                    "layout": "one level" if one_level else "a level each",
                    "n": n,
                    "levels": got["this"][0]["levels"],
                    "this_us": round(this, 3),
                    "reference_us": round(ref, 3),
                    "ratio": round(this / ref, 4),
                    "compiled": [got["this"][0]["compiled"], got["reference"][0]["compiled"]],
                }
            )
            print(json.dumps(out["cases"][-1]), file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
