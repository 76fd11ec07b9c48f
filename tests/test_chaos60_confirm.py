"""chaos60: a settled match's confirm takes each side on its own, as its release does
(chaos55): one side the book no longer holds (filled on chain meanwhile, after a reorg) or
holds less of in flight does not keep the other's amount in flight for good (chaos55, seed 4:
``UnknownOrder`` in ``OrderBook.confirm_pair`` left the incoming side pending)."""

from __future__ import annotations

import pytest

from sdex.book import FillStateError, UnknownOrder
from sdex.matching import MatchingEngine, Outcome
from sdex.matching.match import Match
from sdex.order import SignedOrder
from tests.test_book import T0, A, C, ask, bid, new_book


def _matched() -> tuple[MatchingEngine, SignedOrder, SignedOrder, Match]:
    """An ask of 10 rests; a bid of 20 matches all of it, in flight (its rest rests)."""
    eng = MatchingEngine(new_book(None))
    a = ask(A, 10, 100)
    assert eng.submit(a, now=T0).outcome is Outcome.RESTED
    b = bid(C, 20, 200)
    (m,) = eng.submit(b, now=T0).matches
    return eng, a, b, m


def test_confirm_settles_the_incoming_side_when_the_resting_one_is_gone() -> None:
    eng, a, b, m = _matched()
    eng.book.set_filled(a.hash, 10)  # filled in full elsewhere: the book forgets it
    assert eng.book.get(a.hash) is None
    with pytest.raises(UnknownOrder):  # (said, once both sides were tried)
        eng.confirm(m)
    st = eng.book.get(b.hash)
    assert st is not None and (st.pending, st.filled, st.fillable) == (0, 100, 100)
    assert eng.book.reserved(b.order.maker, b.order.maker_token) == 0


def test_confirm_settles_the_incoming_side_when_the_resting_one_has_less_in_flight() -> None:
    eng, a, b, m = _matched()
    eng.book.set_filled(a.hash, 6)  # the chain's word: its pending fill clipped to 4 of 10
    with pytest.raises(FillStateError):
        eng.confirm(m)
    st = eng.book.get(b.hash)
    assert st is not None and (st.pending, st.filled, st.fillable) == (0, 100, 100)
