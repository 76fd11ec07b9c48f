"""left60 (a finding checked, not a defect): a walk holds the private ladder of its maker
(``BookSide.private``, book49) across its passes; the ladder is deleted when its last level
drops, and a new one is made when an order restricted to that taker enters again. Neither
happens under a walk with something it should meet: a parked order keeps its level, so its
ladder, listed (``BookCore.tidy`` drops only a level with nothing live or parked), and the
orders that unpark mid-walk (``reshare``, a close) were parked in it; orders enter only by
``register``, never from the walk. What comes back after the walk (a FOK's matches released)
enters the ladder as it is then, made again if it was deleted."""

from __future__ import annotations

from sdex.book.ladder import private_of
from sdex.matching import MatchingEngine, Outcome, TimeInForce
from tests.test_book import MAKERS, QUOTE, T0, ask, bid, new_book

SELF, FUNDED = MAKERS[0], MAKERS[3]


def test_a_share_passed_on_to_a_restricted_order_is_met_by_the_same_walk() -> None:
    """walk40's case with the better bid restricted to the incoming maker: parked, it holds
    its level in the private ladder; the share the fill passes on unparks it there."""
    for tif in (TimeInForce.GTC, TimeInForce.IOC):
        book = new_book(default_funds=None)
        engine = MatchingEngine(book)
        book.set_funds(FUNDED, QUOTE, 5)
        older, best = bid(FUNDED, 9, 6), bid(FUNDED, 1, 1, taker=SELF)
        for signed in (older, best):
            assert engine.submit(signed, now=T0).outcome is Outcome.RESTED
        assert book.entry(best.hash).fillable == 0  # parked, in its taker's ladder
        result = engine.submit(ask(SELF, 9, 6), now=T0, tif=tif)
        got = [(m.resting.hash, m.amounts.left_filled) for m in result.matches]
        assert got == [(older.hash, 4), (best.hash, 1)], tif
        assert engine.uncross(now=T0) == []


def test_a_killed_fok_puts_a_restricted_order_back_in_a_ladder_its_taker_walks() -> None:
    book = new_book()
    engine = MatchingEngine(book)
    only = ask(FUNDED, 1, 1, taker=SELF)
    engine.submit(only, now=T0)
    side = book.entry(only.hash).book_side
    before = private_of(side, SELF)
    # the FOK takes the ladder's only order (the ladder drops), then is killed: released
    assert engine.submit(bid(SELF, 2, 2), now=T0, tif=TimeInForce.FOK).outcome is Outcome.KILLED
    after = private_of(side, SELF)
    assert after is not None and after is not before
    level = book.entry(only.hash).level
    assert level is not None and level.side is after and after.ranked == [level]
    result = engine.submit(bid(SELF, 1, 1), now=T0)
    assert [m.resting.hash for m in result.matches] == [only.hash]
