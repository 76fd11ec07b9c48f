"""A match that passes an underfunded maker's share on to its order at a better level the walk
already passed: the walk takes it too (walk40, from ``tests/test_book_state.py``'s machine).

Maker 4 has 5 QUOTE for two bids: 6 QUOTE for 9 BASE (older, price 2/3: it gets all 5) and
1 QUOTE for 1 BASE (price 1, the best bid: it gets 0). An ask of 9 BASE for 6 QUOTE passes the
best level (nothing offered there), skips its own maker's bids and takes 4 QUOTE of the older
bid (whole units: 1 QUOTE is not one). That leaves the older bid 1 QUOTE, less than its lot:
the funds go on to the best bid, which can now pay 1 QUOTE for 1 BASE. The ask's 3 BASE left
must trade there instead of resting across it (a crossed book until the node's uncross).
"""

from __future__ import annotations

from sdex.matching import MatchingEngine, Outcome, TimeInForce
from tests.test_book import MAKERS, QUOTE, T0, ask, bid, new_book

SELF, FUNDED = MAKERS[0], MAKERS[3]


def test_walk_takes_a_share_passed_on_to_a_better_level() -> None:
    book = new_book(default_funds=None)
    engine = MatchingEngine(book)
    book.set_funds(FUNDED, QUOTE, 5)
    engine.submit(bid(SELF, 3, 2), now=T0)  # the incoming maker's own: skipped
    older = bid(FUNDED, 9, 6)
    best = bid(FUNDED, 1, 1)
    for signed in (older, best):
        assert engine.submit(signed, now=T0).outcome is Outcome.RESTED
    assert book.entry(older.hash).fillable == 5 and book.entry(best.hash).fillable == 0

    result = engine.submit(ask(SELF, 9, 6), now=T0)

    got = [(m.resting.hash, m.amounts.left_filled, m.amounts.right_filled) for m in result.matches]
    assert got == [(older.hash, 4, 6), (best.hash, 1, 1)]
    assert result.remaining == 2
    assert book.entry(best.hash).fillable == 0
    assert book.entry(older.hash).fillable == 0  # 1 QUOTE: less than its lot, nothing offered
    assert engine.uncross(now=T0) == []  # nothing crosses: the walk left nothing to do


def _funded_bids() -> tuple[MatchingEngine, bytes, bytes]:
    book = new_book(default_funds=None)
    engine = MatchingEngine(book)
    book.set_funds(FUNDED, QUOTE, 5)
    older, best = bid(FUNDED, 9, 6), bid(FUNDED, 1, 1)
    for signed in (older, best):
        engine.submit(signed, now=T0)
    return engine, older.hash, best.hash


def test_walk_goes_again_after_it_stopped() -> None:
    """An ask of 7 BASE for 4 QUOTE takes 4 QUOTE of the older bid for 6 BASE, and the walk
    stops there (it cannot pay another unit of it); the share passed on to the best bid takes
    its last BASE. FOK agrees: its dry walk's one pass already receives the 4 QUOTE asked."""
    for tif in (TimeInForce.IOC, TimeInForce.FOK):
        engine, older, best = _funded_bids()
        result = engine.submit(ask(SELF, 7, 4), now=T0, tif=tif)
        got = [
            (m.resting.hash, m.amounts.left_filled, m.amounts.right_filled) for m in result.matches
        ]
        assert got == [(older, 4, 6), (best, 1, 1)]
        assert result.outcome is Outcome.FILLED and result.remaining == 0
        assert engine.book.entry(older).fillable == 0 and engine.book.entry(best).fillable == 0
