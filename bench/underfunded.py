"""An underfunded maker with many orders: what sharing its funds costs the book.

One maker rests ``--orders`` asks (1 base each, at 1.00-1.49 quote, awkward amounts:
1 base + a few wei, so a partial share is rarely whole lots), first an unfundable one
(``2**255 - 1`` base for ``2**255 - 2`` quote: its one lot is all of it, attack29). Then
``--takers`` bids of other makers, each buying a few asks' worth at a price through the
whole book, are submitted and their matches confirmed at once.

Two books get the same operations in the same run, alternating by chunks of 50 takers:
``funded`` (the maker can pay every order) and ``underfunded`` (its spendable is half of
what its orders sell, so each fill that leaves the partial order less than its lot shares
the funds again, O(its orders)). ``underfunded / funded`` is the ratio of seconds per taker
(> 1: the underfunded maker costs more). Also printed: how many asks each book offered at
the start (main's book offered none of the underfunded maker's: the unfundable order took
all its funds).

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
BASE = "0x" + "ba" * 20
QUOTE = "0x" + "90" * 20
DOMAIN = Domain(chain_id=31337, verifying_contract="0x" + "e0" * 20)


def _order(maker: str, sell: str, buy: str, m: int, t: int, salt: int) -> SignedOrder:
    o = Order(maker, "0x" + "00" * 20, sell, buy, m, t, "0x" + "00" * 20, 0, NOW + 10**6, salt)
    return SignedOrder(o, bytes(65), DOMAIN.order_hash(o))


def build(n: int, funded: bool) -> tuple[MatchingEngine, int]:
    book = OrderBook([(BASE, QUOTE)])
    asks = [_order(MAKER, BASE, QUOTE, HUGE, HUGE - 1, 0)]
    for i in range(1, n + 1):  # 1 base + i wei for 1.00-1.49 quote
        asks.append(_order(MAKER, BASE, QUOTE, E18 + i, (100 + i) * 10**4, i))
    total = sum(a.order.maker_amount for a in asks[1:])
    book.set_funds(MAKER, BASE, total if funded else total // 2)
    book.set_funds(TAKER, QUOTE, 10**40)
    engine = MatchingEngine(book)
    for a in asks:
        engine.submit(a, NOW)
    offered = sum(1 for s in book if s.fillable > 0)
    return engine, offered


def run(n: int, takers: int, chunk: int) -> dict[str, object]:
    books = {k: build(n, k == "funded") for k in ("funded", "underfunded")}
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
    return {
        "orders": n,
        "takers": takers,
        "offered_at_start": {k: v[1] for k, v in books.items()},
        "fills": fills,
        "us_per_taker": {k: round(v / takers * 1e6, 1) for k, v in seconds.items()},
        "underfunded_over_funded": round(seconds["underfunded"] / seconds["funded"], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1000, help="the maker's asks")
    ap.add_argument("--takers", type=int, default=200)
    ap.add_argument("--chunk", type=int, default=50)
    a = ap.parse_args()
    print(json.dumps(run(a.orders, a.takers, a.chunk)))


if __name__ == "__main__":
    main()
