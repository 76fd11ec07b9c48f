"""left60: an order held *late* (``sdex.book.late``: it expires within the landing time, so
no walk trades it) showed ``open`` whatever its maker's funds: with none left it was still
``open`` (not ``unfunded``), counted as an order that can trade and shown so to wallets.
And the book's snapshot did not record it: ``OrderBook.restore`` (which promises an
identical book) gave it back as an ordinary parked order, ``unfunded``, that a change of
funds put back in its queue."""

from __future__ import annotations

from sdex.book import OrderBook
from sdex.matching import MatchingEngine, Outcome, TimeInForce
from tests.test_book import BASE, MAKERS, T0, ask, bid, new_book

SELLER, BUYER = MAKERS[1], MAKERS[2]


def _held_late() -> tuple[OrderBook, bytes]:
    """An ask expiring at ``T0 + 10``, met by an IOC bid matching by ``T0 + 20``: held late."""
    book = new_book(default_funds=None)
    book.set_funds(SELLER, BASE, 10)
    engine = MatchingEngine(book)
    soon = ask(SELLER, 5, 5, expiry=T0 + 10)
    engine.submit(soon, now=T0)
    result = engine.submit(bid(BUYER, 5, 5), now=T0, match_by=T0 + 20, tif=TimeInForce.IOC)
    assert result.outcome is Outcome.DROPPED and book.entry(soon.hash).late
    return book, soon.hash


def _status(book: OrderBook, h: bytes) -> str:
    st = book.get(h)
    assert st is not None
    return st.status.value


def test_a_late_order_whose_funds_leave_is_unfunded() -> None:
    book, h = _held_late()
    assert _status(book, h) == "open"
    book.set_funds(SELLER, BASE, 0)
    assert _status(book, h) == "unfunded"  # (before: open)
    book.set_funds(SELLER, BASE, 10)
    assert _status(book, h) == "open"
    assert book.entry(h).late and book.entry(h).parked  # (still held apart)


def test_a_snapshot_keeps_an_order_held_late() -> None:
    book, h = _held_late()
    copy = OrderBook.restore(book.snapshot())
    assert copy.snapshot() == book.snapshot()
    assert _status(copy, h) == "open"  # (before: unfunded)
    copy.set_funds(SELLER, BASE, 9)  # a change of funds does not put it back in its queue
    e = copy.entry(h)
    assert e.late and e.parked and copy.late == {h: e}
    result = MatchingEngine(copy).submit(bid(BUYER, 5, 5), now=T0, match_by=T0 + 20)
    assert result.matches == ()
