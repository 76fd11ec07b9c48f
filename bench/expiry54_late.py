"""Orders expiring within the landing window (expiry54, review50's "found and left" #1), run
under a tree given by ``PYTHONPATH`` (``--worker``), or as the driver: this tree and a
reference (``--reference``, /work/main), alternated. Prints JSON.

``--late`` asks (5 makers) expiring in 5 s rest across ``--bids`` honest bids while the
landing time is 10 s (they aged into the window: placed before, so in the queue on main). The
cost (ms) of an ``uncross`` (the node's re-match each loop turn, may_match allowing all), and
(us) of a crossing IOC bid's walk, with and without the late asks; (ms) of the ``restore`` that
puts them all back when the landing time falls to 2 s (review60: one level rebuild each)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = 1000


def run(late: int, bids: int, walks: int) -> dict[str, float]:
    from sdex.book import OrderBook
    from sdex.matching import MatchingEngine, TimeInForce
    from sdex.order import ZERO_ADDRESS, Order, SignedOrder

    base, quote = "0x" + "ba" * 20, "0x" + "90" * 20
    salt = iter(range(1, 10**9))

    def signed(maker: int, sell: str, buy: str, m: int, t: int, exp: int = 2**40) -> SignedOrder:
        o = Order(
            f"0x{maker:040x}", ZERO_ADDRESS, sell, buy, m, t, ZERO_ADDRESS, 0, exp, next(salt)
        )
        return SignedOrder(o, bytes(65), next(salt).to_bytes(32, "big"))

    book = OrderBook([(base, quote)], default_funds=None)
    eng = MatchingEngine(book)
    for k in range(late):  # placed before the window reached them
        eng.submit(signed(0x1100000 + k % 5, base, quote, 100, 100, NOW + 5), NOW, TimeInForce.GTC)
    for k in range(bids):  # honest bids across them, within the window now
        eng.submit(signed(0x1000 + k, quote, base, 150, 100), NOW, TimeInForce.GTC, 0, NOW + 10)
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    for _ in range(5):
        eng.uncross(now=NOW, may_match=lambda r, i: True, match_by=NOW + 10)
    uncross = (time.perf_counter() - t0) / 5 * 1e3
    orders = [signed(0x2000 + k, quote, base, 150, 100) for k in range(walks)]
    t0 = time.perf_counter()
    for o in orders:
        eng.submit(o, NOW, TimeInForce.IOC, 0, NOW + 10)
    walk = (time.perf_counter() - t0) / walks * 1e6
    from sdex.book.late import restore  # (review60: the landing time falls to 2 s)

    t0 = time.perf_counter()
    restore(book, NOW + 2)
    back = (time.perf_counter() - t0) * 1e3
    gc.enable()
    return {
        "uncross_ms": round(uncross, 4),
        "walk_us": round(walk, 3),
        "restore_ms": round(back, 3),
    }


def worker(args: argparse.Namespace) -> None:
    from sdex.book import native

    out = {"compiled": native.ACTIVE}
    for late in (0, args.late):
        for k, v in run(late, args.bids, args.walks).items():
            out[f"{k}_late{late}"] = v
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--late", type=int, default=5000)
    p.add_argument("--bids", type=int, default=500)
    p.add_argument("--walks", type=int, default=100)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--reference", default="/work/main")
    p.add_argument("--worker", action="store_true")
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    trees = {"this": str(ROOT), "reference": args.reference}
    results: dict[str, list[dict[str, object]]] = {"this": [], "reference": []}
    for i in range(args.runs):
        for name in ("reference", "this") if i % 2 else ("this", "reference"):
            cmd = [sys.executable, __file__, "--worker", f"--late={args.late}"]
            cmd += [f"--bids={args.bids}", f"--walks={args.walks}"]
            env = {**os.environ, "PYTHONPATH": trees[name], "PYTHONDONTWRITEBYTECODE": "1"}
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            results[name].append(json.loads(done.stdout))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
