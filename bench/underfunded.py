"""An underfunded maker with many orders: what sharing its funds costs the book.

One maker rests ``--orders`` asks (1 base each, at 1.00-1.49 quote, awkward amounts:
1 base + a few wei, so a partial share is rarely whole lots), first an unfundable one
(``2**255 - 1`` base for ``2**255 - 2`` quote: its one lot is all of it, attack29). Then
``--takers`` bids of other makers, each buying a few asks' worth at a price through the
whole book, are submitted and their matches confirmed at once.

Three books get the same operations in the same run, alternating by chunks of takers:
``funded`` (the maker can pay every order: the fast path), ``short`` (a spendable of half
of what the asks sell: every change to the maker's orders but a settled fill, or a fill
that leaves an order its whole remaining or at least its lot, shares the funds again, O(its
orders); main's book does the same on a close), and ``unfundable`` (as ``short``, with the
unfundable order first: main's book offers none of the maker's orders, attack29). Each
taker buys about 4 asks (their amounts are coprime: one lot is a whole ask); the 30 takers
take about 120 asks. ``over_funded``: seconds per taker against ``funded`` (> 1: costs
more), the best of ``--rounds`` rounds on fresh books. Also printed: how many orders each
book offered at the start.

Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time

from sdex.book import OrderBook
from sdex.matching import MatchingEngine, TimeInForce
from sdex.order import Domain, Order, SignedOrder

NOW = 1_700_000_000
MAKER = "0x" + "aa" * 20
TAKER = "0x" + "bb" * 20
E18 = 10**18
HUGE = 2**255 - 1
KINDS = ("funded", "short", "unfundable")
BASE = "0x" + "ba" * 20
QUOTE = "0x" + "90" * 20
DOMAIN = Domain(chain_id=31337, verifying_contract="0x" + "e0" * 20)


def _order(maker: str, sell: str, buy: str, m: int, t: int, salt: int) -> SignedOrder:
    o = Order(maker, "0x" + "00" * 20, sell, buy, m, t, "0x" + "00" * 20, 0, NOW + 10**6, salt)
    return SignedOrder(o, bytes(65), DOMAIN.order_hash(o))


def build(n: int, kind: str) -> tuple[MatchingEngine, int]:
    book = OrderBook([(BASE, QUOTE)])
    asks = [_order(MAKER, BASE, QUOTE, HUGE, HUGE - 1, 0)] if kind == "unfundable" else []
    for i in range(1, n + 1):  # 1 base + i wei for 1.00-1.49 quote
        asks.append(_order(MAKER, BASE, QUOTE, E18 + i, (100 + i) * 10**4, i))
    total = sum(a.order.maker_amount for a in asks if a.order.maker_amount < HUGE)
    book.set_funds(MAKER, BASE, total if kind == "funded" else total // 2)
    book.set_funds(TAKER, QUOTE, 10**40)
    engine = MatchingEngine(book)
    for a in asks:
        engine.submit(a, NOW)
    offered = sum(1 for s in book if s.fillable > 0)
    return engine, offered


def run(n: int, takers: int, chunk: int) -> tuple[dict[str, float], dict[str, int], dict[str, int]]:
    """One round on fresh books: seconds, fills, orders offered at the start, per book."""
    books = {k: build(n, k) for k in KINDS}
    seconds = dict.fromkeys(books, 0.0)
    fills = dict.fromkeys(books, 0)
    bids = [
        _order(TAKER, QUOTE, BASE, 4 * 10**6 + i, 2 * E18 + i, 10**6 + i) for i in range(takers)
    ]  # about 2 asks' worth each, at a price through the book (2 quote per base)
    order = list(books)
    for start in range(0, takers, chunk):
        for name in order:
            engine = books[name][0]
            t = time.perf_counter()
            for b in bids[start : start + chunk]:
                r = engine.submit(b, NOW, TimeInForce.IOC)
                engine.confirm_all(r.matches)
                fills[name] += len(r.matches)
            seconds[name] += time.perf_counter() - t
        order.reverse()
    return seconds, fills, {k: v[1] for k, v in books.items()}


def report(n: int, takers: int, chunk: int, rounds: int) -> dict[str, object]:
    runs = [run(n, takers, chunk) for _ in range(rounds)]
    best = {k: min(r[0][k] for r in runs) for k in runs[0][0]}  # the least disturbed round
    return {
        "orders": n,
        "takers": takers,
        "rounds": rounds,
        "offered_at_start": runs[0][2],
        "fills": runs[0][1],
        "us_per_taker": {k: round(v / takers * 1e6, 1) for k, v in best.items()},
        "over_funded": {k: round(best[k] / best["funded"], 3) for k in KINDS[1:]},
        "short_over_funded_per_round": [round(r[0]["short"] / r[0]["funded"], 3) for r in runs],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1000, help="the maker's asks")
    ap.add_argument("--takers", type=int, default=30)
    ap.add_argument("--chunk", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5, help="fresh books each; the best is shown")
    a = ap.parse_args()
    print(json.dumps(report(a.orders, a.takers, a.chunk, a.rounds)))


if __name__ == "__main__":
    main()
