"""FOK walks as IOC does, second passes included (walk40): a differential property test.

A FOK order's verdict once came from a separate one-pass look-ahead (``dry_walk``): a FOK
order that only the walk's second pass (a share passed on by a fill, ``OrderBook.reshare``)
would fill was killed although IOC filled it in full. Here FOK runs on the book and IOC on a
copy restored from its snapshot: FOK fills exactly when IOC fills in full, with the same
matches, and a killed FOK leaves the book exactly as it was.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook
from sdex.matching import MatchingEngine, Outcome, TimeInForce
from tests.test_book import BASE2, MAKERS, QUOTE, T0, ask, bid, new_book

SELF, FUNDED, OTHER = MAKERS[0], MAKERS[3], MAKERS[4]


def _full(result_matches: object, base: int, quote: int) -> bool:
    given_ = sum(m.amounts.right_filled for m in result_matches)  # type: ignore[attr-defined]
    got = sum(m.amounts.left_filled for m in result_matches)  # type: ignore[attr-defined]
    return given_ == base or got * base >= base * quote


def _check(book: OrderBook, base: int, quote: int) -> bool:
    """Submit a FOK ask on ``book`` and an IOC ask on a copy; returns whether FOK filled."""
    before = book.snapshot()
    ioc = MatchingEngine(OrderBook.restore(before)).submit(
        ask(SELF, base, quote), now=T0, tif=TimeInForce.IOC
    )
    fok = MatchingEngine(book).submit(ask(SELF, base, quote), now=T0, tif=TimeInForce.FOK)
    ioc_full = _full(ioc.matches, base, quote)
    assert (fok.outcome is Outcome.FILLED) is ioc_full, (ioc.matches, fok)
    if ioc_full:
        assert [m.amounts for m in fok.matches] == [m.amounts for m in ioc.matches]
    else:
        assert fok.outcome is Outcome.KILLED and not fok.matches
        after = book.snapshot()
        assert after.pop("seq") == before.pop("seq") + 1  # (the killed order's arrival number)
        assert after == before
    return ioc_full


def test_fok_filled_only_by_a_share_passed_on() -> None:
    """Maker FUNDED has 5 QUOTE for a bid of 9 BASE for 6 QUOTE (older: it gets all 5) and
    one of 1 BASE for 1 QUOTE (the best: it gets 0). With minimums set (BASE2's: QUOTE has
    none, so a bid trades in whole units, dust34) a FOK ask of 10 BASE for 5 QUOTE takes
    4 QUOTE of the older bid for 6 BASE in the first pass (two units of 2 for 3), which
    leaves it 1 QUOTE, less than its lot: that passes on to the best bid, and the second
    pass takes it for 1 BASE. 5 QUOTE received, as asked: filled (killed before, by the
    one-pass look-ahead; failed 3 of 3 before)."""
    book = new_book(default_funds=None)
    book.minimums[BASE2] = 1
    engine = MatchingEngine(book)
    book.set_funds(FUNDED, QUOTE, 5)
    for signed in (bid(FUNDED, 9, 6), bid(FUNDED, 1, 1)):
        engine.submit(signed, now=T0)
    assert _check(book, 10, 5)


@settings(max_examples=300, deadline=None)
@given(
    funds=st.integers(0, 40),
    bids=st.lists(
        st.tuples(st.sampled_from([FUNDED, FUNDED, OTHER]), st.integers(1, 12), st.integers(1, 12)),
        min_size=1,
        max_size=6,
    ),
    base=st.integers(1, 30),
    quote=st.integers(1, 30),
    whole_units=st.booleans(),
)
def test_fok_fills_exactly_when_ioc_fills_in_full(
    funds: int, bids: list[tuple[str, int, int]], base: int, quote: int, whole_units: bool
) -> None:
    book = new_book(default_funds=None)
    if whole_units:  # a minimum for another token: these trade in whole units (dust34)
        book.minimums[BASE2] = 1
    engine = MatchingEngine(book)
    book.set_funds(FUNDED, QUOTE, funds)
    for maker, b, q in bids:
        engine.submit(bid(maker, b, q), now=T0)
    engine.uncross(now=T0)
    _check(book, base, quote)
