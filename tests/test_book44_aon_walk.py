"""An incoming order passes the all-or-nothing rests it cannot pay without looking at each
(book44): a level of nothing but such rests, each costing more than it has, is passed in
O(1) (``Level.aons``, ``Level.aon_least``), so many of them (each needs an on-chain partial
fill, but is cheap after that) no longer make every walk slow. The fills are the same: the
book's state machine (``tests/test_book_state.py``) checks the walk's every match and what
it left, and ``tests/test_book_totals.check_aons`` the counts.

The walk asks ``may_match`` (``rematch``/``uncross``: the node's say) about each order it
may trade with before it looks at the price: the number of questions is the number of
orders it looked at.
"""

from __future__ import annotations

from sdex.book import Entry, OrderBook
from sdex.matching import MatchingEngine, Outcome
from tests.test_book import MAKERS, T0, ask, bid, new_book

SELF, RESTER = MAKERS[0], MAKERS[1]
M = 1_000_001  # an ask of M BASE for T QUOTE: its unit is all of it (gcd 1)
T = (3 * M + 1) // 2


def aon_asks(book: OrderBook, engine: MatchingEngine, n: int, *, one_level: bool) -> None:
    """``n`` all-or-nothing asks (filled but for ``f`` BASE, less than a unit), at one level
    (all alike) or each at its own (its rest's cost, about 1.5 QUOTE a BASE, is its price)."""
    for k in range(n):
        f = 40 if one_level else 2 * (k + 20)
        signed = ask(RESTER, M, T)
        assert engine.submit(signed, now=T0, filled=M - f).outcome is Outcome.RESTED
        assert book.entry(signed.hash).aon


def questions(n: int, *, one_level: bool) -> int:
    """How many orders a re-matched bid that can pay none of ``n`` all-or-nothing asks
    across looks at."""
    book = new_book(default_funds=None)
    engine = MatchingEngine(book)
    aon_asks(book, engine, n, one_level=one_level)
    poor = bid(SELF, 1, 30)  # 30 QUOTE: less than any of their costs (61 and more)
    assert engine.submit(poor, now=T0).outcome is Outcome.RESTED  # passed them all
    asked: list[Entry] = []

    def may_match(resting: Entry, incoming: Entry) -> bool:
        asked.append(resting)
        return True

    result = engine.rematch(poor.hash, now=T0, may_match=may_match, older_only=False)
    assert not result.matches and book.entry(poor.hash).fillable == 30
    return len(asked)


def test_a_level_of_unpayable_all_or_nothing_rests_is_passed_whole() -> None:
    """200 at one level: none looked at (all 200 before)."""
    assert questions(200, one_level=True) == 0


def test_levels_of_unpayable_all_or_nothing_rests_are_passed_whole() -> None:
    """200 at 200 levels: none looked at (all 200 before)."""
    assert questions(200, one_level=False) == 0


def test_a_payable_one_is_still_taken() -> None:
    """The same book and a bid that can pay the cheapest (61 QUOTE): it takes that one,
    wherever it sits, and passes the others."""
    book = new_book(default_funds=None)
    engine = MatchingEngine(book)
    aon_asks(book, engine, 50, one_level=False)
    result = engine.submit(bid(SELF, 1, 61), now=T0)
    assert [(m.amounts.left_filled, m.amounts.right_filled) for m in result.matches] == [(40, 61)]
