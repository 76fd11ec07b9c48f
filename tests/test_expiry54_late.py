"""expiry54: an order that expires within the node's landing window (``match_by``) may not be
matched (landing49) but stays open until the chain's time passes its expiry. It stayed in its
level's queue, so every walk and every ``uncross`` re-match met and passed it again (review50:
5,000 of them made an ``uncross`` 2,000 times slower; orders age into the window, so the attack
was free). Now the first walk that meets one holds it apart (``sdex.book.late``): out of the
queues, still open (not ``unfunded``), out of depth, back if the landing time falls, closed by
the expiry sweep. A GTC order that arrives that late rests held apart, not crossing the book."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sdex.matching.engine as engine_module
import sdex.matching.walk as walk_module
from sdex.book import RemovalReason, native
from sdex.book.late import restore
from sdex.book.levels import Level
from sdex.book.pairbook import entry_status
from sdex.matching import MatchingEngine, TimeInForce
from sdex.matching.crossing import crossing_entries
from sdex.model import OrderStatus
from sdex.order import SignedOrder
from tests.test_book import MAKERS, ask, bid
from tests.test_matching import NOW, engine

ASKERS = ["0x" + f"{0x1100 + i:040x}" for i in range(5)]
LANDING = 10
BY = NOW + LANDING


def test_orders_aged_into_the_landing_window_cost_walks_and_uncross_nothing() -> None:
    """5,000 asks expiring within the window, priced across 500 bids (review50's repro): after
    one walk meets them, no walk and no ``uncross`` pass visits them again."""
    eng = engine()
    book = eng.book
    late = [ask(ASKERS[k % 5], 100, 100, expiry=NOW + 5) for k in range(5000)]
    for o in late:  # rested before the window reached them: in the queue
        assert not eng.submit(o, NOW, TimeInForce.GTC, 0, NOW).matches
    for k in range(500):  # honest bids at 1.5, across them: within the window now
        r = eng.submit(bid(MAKERS[k % 4], 100, 150), NOW, TimeInForce.GTC, 0, BY)
        assert not r.matches
    pair = book.pairs[0]
    assert not eng.uncross(now=NOW, may_match=lambda r, i: True, match_by=BY)
    # the re-match the node runs each loop turn visits nothing: no order across is left
    assert crossing_entries(pair, book) == []  # (was: 5,500 entries re-matched each pass)
    (level,) = [lv for lv in pair.asks if lv.parked]
    assert level.live == 0 and len(level.parked) == 5000  # (was: a queue of 5,000 to pass)
    assert len(book.late) == 5000
    r = eng.submit(bid(MAKERS[5], 100, 150), NOW, TimeInForce.IOC, 0, BY)
    assert not r.matches
    # still open, not unfunded; not offered in depth
    e = book.entry(late[0].hash)
    assert e.resting and entry_status(e) is OrderStatus.OPEN
    assert book.get(late[0].hash).status is OrderStatus.OPEN  # type: ignore[union-attr]
    assert pair.best_ask() is None
    # closed as expired by the chain's clock only, by the sweep, and forgotten
    removed = book.expire(NOW + 5)
    assert len(removed) == 5000 and {r for _, r in removed} == {RemovalReason.EXPIRED}
    assert book.late == {}


def test_a_late_order_comes_back_when_the_landing_time_falls() -> None:
    eng = engine()
    soon = ask(MAKERS[0], 5, 50, expiry=NOW + 8)
    assert not eng.submit(soon, NOW, TimeInForce.GTC, 0, BY).matches  # arrives late: held
    assert eng.book.pairs[0].best_ask() is None  # (was: shown, crossing the book)
    assert eng.book.entry(soon.hash).late
    crossing = bid(MAKERS[1], 5, 60)
    assert not eng.submit(crossing, NOW, TimeInForce.GTC, 0, BY).matches
    (res,) = eng.uncross(now=NOW, match_by=NOW + 2)  # the landing time drops to 2 s
    assert [m.resting.hash for m in res.matches] == [soon.hash]
    assert eng.book.late == {}


def test_funds_coming_back_do_not_requeue_a_late_order() -> None:
    eng = engine(default_funds=None)
    book = eng.book
    soon = ask(MAKERS[0], 5, 50, expiry=NOW + 8)
    eng.submit(soon, NOW, TimeInForce.GTC, 0, BY)
    e = book.entry(soon.hash)
    base = soon.order.maker_token
    book.set_funds(MAKERS[0], base, 0)
    assert e.late and e.parked
    book.set_funds(MAKERS[0], base, None)  # funded again: still held (not in the queue)
    assert e.late and e.parked and e.level is not None and e.level.live == 0


@pytest.mark.skipif(native.ACTIVE, reason="counts the levels' rebuilds (Python source only)")
def test_a_falling_landing_time_requeues_a_level_once_not_once_an_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """review60: ``restore`` put each late entry back with ``Level.unpark``, O(level) each (a
    compaction and a renumbering of the queue): 5,000 held at one level took 0.4 s compiled,
    20,000 ~20 s, at each fall of the landing time (a queue of matches that drains). Orders
    aging into the window at one price cost nothing extra; now each level is rebuilt once per
    ``restore``."""
    eng = engine()
    book = eng.book
    late = [ask(ASKERS[k % 5], 100, 100, expiry=NOW + 5) for k in range(2000)]
    resting = [ask(ASKERS[k % 5], 100, 100) for k in range(100)]
    for o in late:  # rested before the window reached them, then met by a walk: held
        assert not eng.submit(o, NOW, TimeInForce.GTC, 0, NOW).matches
    assert not eng.submit(bid(MAKERS[0], 10, 20), NOW, TimeInForce.IOC, 0, BY).matches
    for o in resting:  # and newer ones at that price, not late
        assert not eng.submit(o, NOW, TimeInForce.GTC, 0, BY).matches
    (level,) = [lv for lv in book.pairs[0].asks if lv.parked]
    assert len(book.late) == 2000 and level.live == 100
    rebuilt = {"compact": 0, "recount": 0}
    for name in rebuilt:
        real = getattr(Level, name)

        def counted(self: Level, _real: object = real, _name: str = name) -> None:
            rebuilt[_name] += 1
            _real(self)  # type: ignore[operator]

        monkeypatch.setattr(Level, name, counted)
    restore(book, NOW + 2)  # the landing time falls to 2 s: all of them may trade again
    assert rebuilt["compact"] <= 1 and rebuilt["recount"] <= 1, rebuilt  # (was 2,000 each)
    assert book.late == {} and not level.parked and level.live == 2100
    # back at their time priority, each in its own slot, the level's total theirs too
    queue = list(level.active())
    assert [e.hash for e in queue] == [o.hash for o in late + resting]
    assert all(level.queue[e.slot] is e for e in queue)
    assert level.total == sum(e.fillable for e in queue)
    r = eng.submit(bid(MAKERS[0], 10, 20), NOW, TimeInForce.IOC, 0, NOW + 2)
    assert [m.resting.hash for m in r.matches] == [late[0].hash]  # the oldest trades first


def test_a_late_order_whose_fill_makes_it_all_or_nothing_stays_held() -> None:
    """review60: a fill of a late order (another node's settlement, read from the chain) that
    left a rest that is not whole units moved it to its all-or-nothing level (``_reunit``)
    into the queue, still ``late``: shown in depth at a price no walk may trade, and met and
    passed by every walk again (``hold`` took it for held already). Now it enters parked."""
    eng = engine()
    book = eng.book
    soon = ask(MAKERS[0], 100, 150, expiry=NOW + 5)  # a unit: 2 for 3
    assert not eng.submit(soon, NOW, TimeInForce.GTC, 0, NOW).matches
    assert not eng.submit(bid(MAKERS[1], 10, 20), NOW, TimeInForce.IOC, 0, BY).matches
    e = book.entry(soon.hash)
    assert e.late and e.parked
    book.set_filled(soon.hash, 99)  # 1 left: all or nothing at its own cost (2)
    assert e.aon and e.closed is None and e.late
    assert e.parked and e.level is not None and e.level.live == 0  # (was: in the queue)
    assert book.pairs[0].best_ask() is None  # (was: 1 offered at 2)
    assert entry_status(e) is OrderStatus.PARTIALLY_FILLED
    # the landing time falls: it may trade again, all of its rest
    r = eng.submit(bid(MAKERS[2], 1, 2), NOW, TimeInForce.IOC, 0, NOW + 2)
    assert [(m.resting.hash, m.amounts.left_filled) for m in r.matches] == [(soon.hash, 1)]
    assert not e.late and book.late == {}


_PRICES = st.integers(1, 4)
_OP = st.tuples(
    st.sampled_from(["ask", "bid", "ioc_ask", "ioc_bid", "uncross", "tick"]),
    st.integers(0, 2),  # maker
    st.integers(1, 3),  # amount (x 10)
    _PRICES,
    st.sampled_from([NOW + 4, NOW + 9, NOW + 16, NOW + 10**6]),  # expiry
    st.sampled_from([0, 3, 10, 20]),  # landing time of this call
)


def _order(op: tuple[str, int, int, int, int, int]) -> tuple[SignedOrder, bool]:
    kind, maker, amount, price, expiry, _ = op
    base = amount * 10
    if kind.endswith("ask"):
        return ask(MAKERS[maker], base, base * price, expiry=expiry), False
    return bid(MAKERS[maker], base, base * price, expiry=expiry), True


def _run(
    eng: MatchingEngine, ops: list[tuple[str, int, int, int, int, int]], orders: list[SignedOrder]
) -> list[object]:
    trace: list[object] = []
    now = NOW
    hashes: list[bytes] = []
    for i, op in enumerate(ops):
        kind, landing = op[0], op[5]
        if kind == "tick":
            now += 3
            trace.append(sorted(eng.book.expire(now)))
            continue
        if kind == "uncross":
            out = eng.uncross(now=now, match_by=now + landing)
            trace.append([(r.order.hash, _matches(r.matches), sorted(r.removed)) for r in out])
            continue
        signed = orders[i]
        hashes.append(signed.hash)
        tif = TimeInForce.IOC if kind.startswith("ioc") else TimeInForce.GTC
        r = eng.submit(signed, now, tif, 0, now + landing)
        trace.append((r.outcome, _matches(r.matches), sorted(r.removed), r.remaining))
    for h in hashes:
        e = eng.book.get(h)
        trace.append(None if e is None else (e.filled, e.pending, e.remaining, e.closed))
    return trace


def _matches(ms: tuple[object, ...]) -> list[tuple[object, ...]]:
    return [(m.resting.hash, m.incoming.hash, m.amounts) for m in ms]  # type: ignore[attr-defined]


@pytest.mark.skipif(native.ACTIVE, reason="swaps the walk's ``hold`` (Python source only)")
@settings(max_examples=300, deadline=None)
@given(st.lists(_OP, min_size=1, max_size=40))
def test_holding_late_orders_apart_changes_no_match(
    ops: list[tuple[str, int, int, int, int, int]],
) -> None:
    """Differential: the engine with late orders held apart and the engine without (``hold``
    a no-op: they stay in the queues and each walk passes them, as before) make the same
    matches, outcomes and removals, and leave every order in the same state."""
    orders = [_order(op)[0] for op in ops]
    held = _run(engine(), ops, orders)
    real = engine_module.hold
    engine_module.hold = walk_module.hold = lambda book, e, by: None  # type: ignore[assignment]
    try:
        reference = _run(engine(), ops, orders)
    finally:
        engine_module.hold = walk_module.hold = real
    assert held == reference


@pytest.mark.skipif(not native.ACTIVE, reason="the source book runs the differential itself")
def test_the_differential_runs_on_the_source_book_too() -> None:
    """With the compiled book in this process (``make test``: a compiled module's globals
    cannot be swapped), the differential and the count of rebuilds above run in a
    ``SDEX_PURE=1`` process."""
    root = Path(__file__).resolve().parent.parent
    tests = [
        f"tests/{Path(__file__).name}::{name}"
        for name in (
            "test_holding_late_orders_apart_changes_no_match",
            "test_a_falling_landing_time_requeues_a_level_once_not_once_an_order",
        )
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            *tests,
        ],
        env={**os.environ, "SDEX_PURE": "1", "PYTHONPATH": str(root)},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0 and "2 passed" in done.stdout, (
        done.stdout[-3000:] + done.stderr[-2000:]
    )
