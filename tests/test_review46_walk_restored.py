"""review46: the walk on a book that lived through fills, releases, cancels, funds moves and
killed FOK orders matches exactly as on the same book restored from its snapshot (its queues
rebuilt, no level passed whole: ``Level.aon_least`` 0): a stale ``aon_least`` (set too high
after a reorganisation) would pass a payable all-or-nothing rest there and not here, and a
killed FOK order that left anything behind would show in the snapshot or the next walk.
Amounts are ``fillmath``'s (tests/test_book_state.py); ``check_aons`` the counts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook, RemovalReason
from sdex.matching import Match, MatchingEngine, Outcome, TimeInForce
from tests.test_book import BASE, FAR, MAKERS, QUOTE, T0, ask, bid, new_book
from tests.test_book_totals import check_aons

TAKERS = MAKERS[4:6]
RESTERS = MAKERS[:4]

_rest = st.tuples(
    st.sampled_from(RESTERS),
    st.integers(2, 40),
    st.integers(2, 40),
    st.integers(0, 39),
    st.sampled_from([T0 + 5, FAR]),  # (some expired by the probes' time)
)
_op = st.one_of(
    st.tuples(st.just("rest"), _rest),
    st.tuples(
        st.just("take"),
        st.tuples(
            st.sampled_from(TAKERS),
            st.integers(1, 40),
            st.integers(1, 60),
            st.sampled_from([TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTC]),
        ),
    ),
    st.tuples(st.just("funds"), st.tuples(st.sampled_from(RESTERS), st.integers(0, 60))),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("release"), st.integers(0, 30)),
    st.tuples(st.just("confirm"), st.integers(0, 30)),
)


def _amounts(result: object) -> list[tuple[int, int, bytes]]:
    return [
        (m.amounts.left_filled, m.amounts.right_filled, m.resting.hash)
        for m in result.matches  # type: ignore[attr-defined]
    ]


def _levels_ok(book: OrderBook) -> None:
    for pair in book.pairs:  # type: ignore[attr-defined]
        for side in (pair.bids, pair.asks):
            for level in side.ranked:
                check_aons(level)


@settings(max_examples=400, deadline=None)
@given(
    ops=st.lists(_op, min_size=1, max_size=25),
    minimum=st.integers(0, 6),
    probe=st.tuples(st.integers(1, 40), st.integers(1, 80)),
    late=st.booleans(),
)
def test_a_lived_book_walks_as_its_restored_copy(
    ops: list[tuple[str, Any]], minimum: int, probe: tuple[int, int], late: bool
) -> None:
    book = new_book(default_funds=None)
    if minimum:
        book.minimums[BASE] = minimum
        book.minimums[QUOTE] = minimum
    engine = MatchingEngine(book)
    for r in RESTERS:
        book.set_funds(r, BASE, 1000)
    matches: list[Match] = []
    hashes: list[bytes] = []
    for kind, arg in ops:
        if kind == "rest":
            maker, base, quote, filled, expiry = arg
            signed = ask(maker, base, quote, expiry=expiry)
            res = engine.submit(signed, now=T0, filled=min(filled, base - 1))
            hashes.append(signed.hash)
            matches += res.matches
        elif kind == "take":
            taker, base, quote, tif = arg
            signed = bid(taker, base, quote)
            before = book.snapshot()
            res = engine.submit(signed, now=T0, tif=tif)
            if res.outcome is Outcome.KILLED:  # a killed FOK leaves the book as it was
                after = book.snapshot()
                assert after.pop("seq") == before.pop("seq") + 1
                assert after == before
            hashes.append(signed.hash)
            matches += res.matches
        elif kind == "funds":
            maker, amount = arg
            book.set_funds(maker, BASE, amount)
            for r in engine.uncross(now=T0):
                matches += r.matches
        elif kind == "cancel" and hashes:
            h = hashes[arg % len(hashes)]
            if h in book and not book.entry(h).pending:
                book.remove(h, RemovalReason.CANCELLED)
        elif kind in ("release", "confirm") and matches:
            m = matches.pop(arg % len(matches))
            if m.resting.hash not in book or m.incoming.hash not in book:
                continue
            if kind == "release":
                engine.release(m)
            else:
                engine.confirm(m)
        _levels_ok(book)
    probe_at = T0 + 5 if late else T0
    for tif in (TimeInForce.FOK, TimeInForce.IOC):  # on the lived book, and on its copy
        probe_order = bid(TAKERS[0], *probe)
        copy = OrderBook.restore(book.snapshot())
        for pair in copy.pairs:  # type: ignore[attr-defined]
            for level in pair.bids.ranked + pair.asks.ranked:
                level.aon_least = 0  # (no level passed whole: each rest looked at)
        fresh = MatchingEngine(copy)
        b = fresh.submit(probe_order, now=probe_at, tif=tif)
        a = engine.submit(probe_order, now=probe_at, tif=tif)
        assert a.outcome == b.outcome and _amounts(a) == _amounts(b)
