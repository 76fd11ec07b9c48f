"""Orders held apart as *late*: open, but expiring by when a match made now could settle.

The engine never matches a resting order whose expiry is not after ``match_by`` (the chain's
time plus the node's landing window, landing49): the chain may still fill it, so it is not
closed before the chain's time passes its expiry (``OrderBook.expire``), but no walk may trade
it. Left in its level's queue it would be met, and passed, by every walk and every ``uncross``
re-match until then (review50: 5,000 of them made an ``uncross`` 2,000 times slower). So the
first walk that meets one (or ``rest``, for a new order already that late) parks it *late*:
out of the queue as a parked entry (``Level.parked``), with ``Entry.late`` set so that no
change of funds or fills puts it back (``Level.unpark``), and in the book's ``late`` dict.
Readers see it ``open`` (or partially filled), not ``unfunded``, and not in depth (it cannot
trade). All late entries expire by ``late_by``, the latest ``match_by`` that held one, so the
dict is bounded by the orders expiring within the landing window; should ``match_by`` fall
below ``late_by`` (the landing time shrank), ``restore`` puts back those that may trade again.
"""

from __future__ import annotations

from sdex.book.bookbase import BookBase
from sdex.book.levels import Entry, Level


def hold(book: BookBase, e: Entry, by: int) -> None:
    """Park resting ``e`` late (``by``: the ``match_by`` that it expires by). O(1)."""
    level = e.level
    if e.late or e.closed is not None or level is None:  # (deferred: held once it enters)
        return
    if not e.parked:
        level.park(e)
    e.late = True
    book.late[e.hash] = e
    if by > book.late_by:
        book.late_by = by


def restore(book: BookBase, by: int) -> None:
    """If ``match_by`` fell to ``by`` (below ``book.late_by``): late entries that expire after it
    may trade again; those that can (``fillable`` a lot) go back to their queues, each level
    rebuilt once (``Level.requeue``; review60: one ``unpark`` each, O(level) each, made a
    fall of the landing time quadratic in the orders late at one price). O(late + levels)."""
    if by >= book.late_by:  # (the usual case: nothing held may trade at ``by``)
        return
    late = book.late
    back: dict[Level, list[Entry]] = {}
    for h, e in list(late.items()):
        if e.expiry > by:
            del late[h]
            e.late = False
            level = e.level
            if level is not None and e.parked and e.fillable >= e.lot:
                back.setdefault(level, []).append(e)
    for level, entries in back.items():
        level.requeue(entries)
    book.late_by = by


def forget(book: BookBase, e: Entry) -> None:
    """``e`` (late) closes: no longer held."""
    e.late = False
    book.late.pop(e.hash, None)
