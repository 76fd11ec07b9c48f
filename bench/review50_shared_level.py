"""Two costs of private ladders (review50), run under both trees (``PYTHONPATH``),
alternated. Prints JSON.

- A level both ladders hold: ``--deep`` public asks at one price and one ask restricted to
  ``T`` among them; the cost of a walk of one of ``T``'s bids that fills one ask (us), and of
  ``T``'s view of the book's top page (``sdex.node.takers.offered``, us), with and without
  the restricted ask (``shared`` / ``public``): main copied and sorted the public level.
- ``parked``: one unfunded ask restricted to ``T`` priced across ``--bids`` bids of ``T``;
  an ``uncross`` (ms): main re-matched every one of them each time."""

from __future__ import annotations

import argparse
import gc
import json
import time

from sdex.book import OrderBook, Side
from sdex.book import native as book_native
from sdex.matching import MatchingEngine, TimeInForce
from sdex.node.takers import offered
from sdex.order import ZERO_ADDRESS
from tests.test_book49_private_ladders import BASE, QUOTE, TAKER, _maker, _signed


def run(deep: int, walks: int, shared: bool) -> dict[str, float]:
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    engine = MatchingEngine(book)
    if shared:
        engine.submit(_signed(_maker(10**7), TAKER, BASE, QUOTE, 100, 150), 1, TimeInForce.GTC)
    for k in range(deep + walks):
        engine.submit(_signed(_maker(k), ZERO_ADDRESS, BASE, QUOTE, 100, 150), 1, TimeInForce.GTC)
    pair = book.pair(BASE, QUOTE)
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(walks):
        offered(pair, Side.ASK, 0, 20, TAKER)
    page = (time.perf_counter() - t0) / walks * 1e6
    bids = [_signed(TAKER, ZERO_ADDRESS, QUOTE, BASE, 150, 100) for _ in range(walks)]
    t0 = time.perf_counter()
    for bid in bids:
        engine.submit(bid, 1, TimeInForce.IOC)
    walk = (time.perf_counter() - t0) / walks * 1e6
    return {"walk_us": round(walk, 2), "page_us": round(page, 2)}


def parked(bids: int, rounds: int) -> float:
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    engine = MatchingEngine(book)
    maker = _maker(10**7)
    book.set_funds(maker, BASE, 0)
    engine.submit(_signed(maker, TAKER, BASE, QUOTE, 100, 50), 1, TimeInForce.GTC)
    for k in range(bids):
        engine.submit(_signed(TAKER, ZERO_ADDRESS, QUOTE, BASE, 150 + k, 100), 1, TimeInForce.GTC)
    t0 = time.perf_counter()
    for _ in range(rounds):
        engine.uncross(now=1, may_match=lambda resting, incoming: True)
    return round((time.perf_counter() - t0) / rounds * 1e3, 4)


def main() -> None:
    gc.disable()  # (the timed loops: no cyclic GC of the books built)
    ap = argparse.ArgumentParser()
    ap.add_argument("--deep", type=int, default=50_000)
    ap.add_argument("--walks", type=int, default=200)
    ap.add_argument("--bids", type=int, default=1000)
    args = ap.parse_args()
    out = {
        "compiled": book_native.ACTIVE,
        "deep": args.deep,
        "public": run(args.deep, args.walks, False),
        "shared": run(args.deep, args.walks, True),
        "parked_uncross_ms": parked(args.bids, 100),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
