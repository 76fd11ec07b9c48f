#!/usr/bin/env python3
"""What the view of the taker named by orders restricted to it (``sdex.node.takers``,
attack30; ``/v1/orderbook?takerAddress=X``) costs a page and its level totals, in process,
against the public book's own reads in the same run (the reference: ``PairBook.offered`` and
``PairBook.totals``; since book49 the public book is the book's public ladders as they are,
and X's view merges in X's private ladder, ``BookSide.private``).

A book of one pair with ``--size`` resting orders over 1,000 price levels, a share of them
(``--restricted``, each value a run) restricted to one taker. Each round times, alternating
which goes first: ``page_top`` and ``page_deep`` (both sides' ``perPage=100`` page: the first,
or at a random depth in the first quarter) and ``depth`` (both sides' level totals), the
taker's view vs the reference. Medians in microseconds and the ratio view / reference per
round; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

BASE = "0x" + "ba" * 20
QUOTE = "0x" + "90" * 20
MID = 2000 * 10**6
TICK = 10**4
DEAD = "0x" + "00" * 18 + "de" + "ad"


def run(size: int, share: float, rounds: int, seed: int) -> dict[str, Any]:
    from sdex.book import OrderBook, Side
    from sdex.node.takers import offered, viewer_totals
    from sdex.order import ZERO_ADDRESS, Order, SignedOrder

    rng = random.Random(seed)
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    makers = ["0x" + f"{i:040x}" for i in range(1, 1001)]
    for s in range(1, size + 1):
        is_ask = rng.random() < 0.5
        away = rng.randrange(1, 501)
        price = MID + away * TICK if is_ask else MID - away * TICK
        base = rng.randrange(1, 20) * 10**16
        quote = base * price // 10**18
        sell, buy, m, t = (BASE, QUOTE, base, quote) if is_ask else (QUOTE, BASE, quote, base)
        taker = DEAD if rng.random() < share else ZERO_ADDRESS
        o = Order(rng.choice(makers), taker, sell, buy, m, t, ZERO_ADDRESS, 0, 2**40, s)
        so = SignedOrder(o, bytes(65), s.to_bytes(32, "big"))
        book.add(so)
    pair = book.pair(BASE, QUOTE)
    sides = (Side.BID, Side.ASK)

    def page_public(first: int) -> object:
        return [offered(pair, s, first, first + 100, DEAD) for s in sides]

    def page_ref(first: int) -> object:
        return [pair.offered(s, first, first + 100) for s in sides]

    def depth_public(_: int) -> object:
        return [viewer_totals(pair, s, DEAD) for s in sides]

    def depth_ref(_: int) -> object:
        return [pair.totals(s) for s in sides]

    out: dict[str, Any] = {"size": size, "restricted": share}
    for name, new, ref in (
        ("page_top", page_public, page_ref),
        ("page_deep", page_public, page_ref),
        ("depth", depth_public, depth_ref),
    ):
        t_new: list[float] = []
        t_ref: list[float] = []
        for r in range(rounds):
            first = rng.randrange(0, max(1, size // 4)) if name == "page_deep" else 0
            pair_ = ((new, t_new), (ref, t_ref))
            for fn, into in pair_ if r % 2 == 0 else pair_[::-1]:
                t0 = time.perf_counter()
                fn(first)
                into.append((time.perf_counter() - t0) * 1e6)
        ratios = sorted(a / b for a, b in zip(t_new, t_ref, strict=True))
        out[name] = {
            "public_us": round(statistics.median(t_new), 1),
            "reference_us": round(statistics.median(t_ref), 1),
            "ratio_median": round(statistics.median(ratios), 2),
            "ratio_p10_p90": [
                round(ratios[len(ratios) // 10], 2),
                round(ratios[-len(ratios) // 10 - 1], 2),
            ],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--restricted", type=float, nargs="+", default=[0.0, 0.001, 0.01, 0.1])
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    print(json.dumps([run(a.size, s, a.rounds, a.seed) for s in a.restricted], indent=1))


if __name__ == "__main__":
    main()
