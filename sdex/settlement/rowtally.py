"""What reads apart said of a start's pending rows' receipts, per lane (``Tally``): kept between
``sdex.settlement.rowreceipt.believed``'s tries (``row_tally``) and handed to the adopted row's
wait (``kept_tally``: ``NonceLane._receipt``). Split from ``rowreceipt`` (which reads the lane:
the lane's wait reads this, an import cycle otherwise)."""

from __future__ import annotations

import weakref

from sdex.settlement.confirm import Tally

MAX_ROWS_TALLIED = 256
"""Rows whose reads apart a lane remembers between ``believed``'s calls (the oldest asked
forgotten: a fresh ``Tally``)."""
_tallies: weakref.WeakKeyDictionary[object, dict[str, Tally]] = weakref.WeakKeyDictionary()


def row_tally(lane: object, tx_hash: str) -> Tally:
    """What reads apart said of ``tx_hash``'s receipts through ``lane`` so far (review97b: a
    fresh ``Tally`` each call of ``believed``, so a receipt a read denied was believed on the
    next try's two reads in a row, ``mark_unread``'s a second later: a round-robin balancer's
    liar needed only two in a row once)."""
    kept = _tallies.setdefault(lane, {})
    tally = kept.pop(tx_hash.lower(), None) or Tally()
    kept[tx_hash.lower()] = tally
    while len(kept) > MAX_ROWS_TALLIED:
        del kept[next(iter(kept))]
    return tally


def kept_tally(lane: object, tx_hash: str) -> Tally | None:
    """(``NonceLane._receipt``) What a start's reads apart said of ``tx_hash``'s receipts
    (``row_tally``'s, the same ``Tally`` from here on), None if nothing: an adopted row's wait
    goes on from it (confirm98: a fresh ``Tally``, a receipt a read apart denied at the
    adoption was believed on the wait's first two reads in a row, both on the liar)."""
    return _tallies.get(lane, {}).get(tx_hash.lower())
