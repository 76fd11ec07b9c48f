"""The public book's view (``sdex.node.takers``) over a real ``OrderBook``: pages and level
totals without the orders restricted to a taker other than the viewer (they rest apart, in
private ladders, book49) are what a walk of every resting order, filtered, gives, however
the levels' queues are changed (dead slots from cancels, parked makers, orders resting again
out of order)."""

from __future__ import annotations

import random

import pytest

from sdex.book import Entry, OrderBook, RemovalReason, Side
from sdex.node.takers import offered, viewer_totals
from sdex.order import ZERO_ADDRESS, SignedOrder
from tests.test_book import BASE, MAKERS, QUOTE, ask

TAKERS = [ZERO_ADDRESS, ZERO_ADDRESS, "0x000000000000000000000000000000000000dead", MAKERS[5]]
VIEWERS = [None, "0x000000000000000000000000000000000000dead", MAKERS[5]]


def _walk(book: OrderBook, viewer: str | None) -> list[Entry]:
    pair = book.pair(BASE, QUOTE)
    return [
        e
        for e in pair.entries(Side.ASK)
        if not e.parked
        and e.closed is None
        and e.fillable > 0
        and e.taker in (ZERO_ADDRESS, viewer)
    ]


def _totals(walk: list[Entry]) -> list[tuple[int, int, int]]:
    out: dict[tuple[int, int], int] = {}
    for e in walk:
        assert e.level is not None
        key = (e.level.num, e.level.den)
        out[key] = out.get(key, 0) + e.fillable
    return [(n, d, a) for (n, d), a in out.items()]  # (the walk is best first)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_pages_and_totals_leave_out_what_the_viewer_may_not_take(seed: int) -> None:
    """Every page, near the top and deep."""
    rng = random.Random(seed)
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    pair = book.pair(BASE, QUOTE)
    live: list[SignedOrder] = []

    def add(n: int, deep: bool) -> None:
        for _ in range(n):
            price = 20 if deep else 20 + rng.randrange(6)  # one deep level, a few others
            o = ask(MAKERS[rng.randrange(5)], 10, 10 * price, taker=rng.choice(TAKERS))
            book.add(o)
            live.append(o)

    add(600, deep=True)
    add(200, deep=False)
    for step in range(25):
        book.set_funds(MAKERS[rng.randrange(5)], BASE, 0 if step % 2 == 0 else None)
        add(rng.randrange(0, 30), deep=rng.random() < 0.5)
        for _ in range(rng.randrange(5, 40)):
            o = live.pop(rng.randrange(len(live)))
            book.remove(o.hash, RemovalReason.CANCELLED)
        for viewer in VIEWERS:
            want = _walk(book, viewer)
            assert viewer_totals(pair, Side.ASK, viewer) == _totals(want)
            n = len(want)
            for first in [0, 1, rng.randrange(max(n, 1)), n // 2, max(n - 3, 0), n, n + 4]:
                for size in (1, 7, 100):
                    total, page, _ = offered(pair, Side.ASK, first, first + size, viewer)
                    assert total == n and page == want[first : first + size], (first, size)


def test_a_side_with_no_restricted_order_reads_the_book_as_before() -> None:
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    pair = book.pair(BASE, QUOTE)
    for i in range(30):
        book.add(ask(MAKERS[i % 4], 10, 10 * (20 + i % 3)))
    assert offered(pair, Side.ASK, 3, 20, MAKERS[5]) == pair.offered(Side.ASK, 3, 20)
    assert viewer_totals(pair, Side.ASK, MAKERS[5]) == pair.totals(Side.ASK)
