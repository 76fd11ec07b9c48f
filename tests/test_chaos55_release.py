"""chaos55: a failed match's release gives each side back on its own: one side the book no
longer holds (filled on chain meanwhile, after a reorg) does not keep the other's amount in
flight for good (chaos52, seed 2: ``UnknownOrder`` stopped the release at the resting side)."""

from __future__ import annotations

import pytest

from sdex.book import UnknownOrder
from sdex.matching import MatchingEngine, Outcome
from tests.test_book import T0, A, C, ask, bid, new_book


def test_release_gives_back_the_incoming_side_when_the_resting_one_is_gone() -> None:
    eng = MatchingEngine(new_book(None))
    a = ask(A, 10, 100)
    assert eng.submit(a, now=T0).outcome is Outcome.RESTED
    b = bid(C, 5, 50)
    (m,) = eng.submit(b, now=T0).matches
    assert eng.book.get(b.hash).pending == 50  # type: ignore[union-attr]
    eng.book.set_filled(a.hash, 10)  # filled in full elsewhere: the book forgets it
    assert eng.book.get(a.hash) is None
    with pytest.raises(UnknownOrder):  # (said, once both sides were tried)
        eng.release(m)
    st = eng.book.get(b.hash)
    assert st is not None and st.pending == 0 and st.fillable == 50
    assert eng.book.reserved(b.order.maker, b.order.maker_token) == 0
