"""review87 (for watch87: ``Unapplied.told``): one poll's answer far above the chain (a
backend on another chain, a lie) raises ``told`` for good on a running node. ``caught_up``
lowers it only when the book is brought back, ``back_at_start`` only under a start's gap
(start86). From then on every newHeads announcement, on time, is at or below ``told``:
counted late (``/health``'s ``lateAnnouncements`` counts each block), the feed never on
time again (``on_time``), each send asking the chain's head, till the chain reaches the
lied number. start86 proved a lower head by ``AGREE`` reads apart for the start's gap; a
running watcher's ``told`` has no such way down.

Fixed by watch87 (merged beside it): a poll's latest more than ``TOLD_FAR`` below ``told``
is read again ``AGREE`` times apart (``Watcher._proven_below``, tests/test_watch87_told_phantom.py
on a real chain) and ``told_back`` lowers ``told`` to the highest of them. Here the same on
``Unapplied`` alone: without that proof ``told`` stays (every announcement late); after it,
none is."""

from __future__ import annotations

import time

from sdex.watch.unapplied import Unapplied

AHEAD = 10**6


def test_one_answer_far_ahead_does_not_make_every_announcement_late_once_proven() -> None:
    u = Unapplied()
    u.caught_up(100)
    u.from_now()  # (running: no start's gap)
    u.saw(AHEAD, polled=True)  # (one poll's answer far ahead)
    u.saw(100, polled=True)
    u.announced(101)
    assert u.late == 1 and u.told == AHEAD  # (the defect, till the watcher proves the head)
    u.told_back(100, time.monotonic())  # (the watcher's AGREE reads apart found 100)
    u.late = 0
    for n in range(101, 111):  # (the chain's own blocks, polled and applied, then announced)
        u.saw(n, polled=True)
        u.caught_up(n)
        u.announced(n + 1)
        u.caught_up(n + 1)
    assert u.late == 0, u.to_json()
