"""A price level's total, the sum of what its orders offer, kept in two machine ints.

The sum of a busy level's amounts (18 decimals: 100 orders of 0.1 token pass 62 bits) would
be a Python long in the compiled book, and every fill would allocate one. ``Total`` keeps it
as ``high * CHUNK + low`` with ``0 <= low < CHUNK``: ``low`` stays a machine int and a fill
moves it with one subtraction, ``high`` only on a borrow (``carry``). The base of
``sdex.book.levels.Level`` (and a ``Logged`` record: the changes of a level's total are
what its side's log notes); the book changes ``low`` in place on its hot paths
(``OrderBook.fill``), and calls ``carry`` when it leaves its range.
"""

from __future__ import annotations

from typing import Final

from sdex.book.changelog import Logged

CHUNK: Final = 2**60  # ``low`` stays below it: a machine int in the compiled book


class Total(Logged):
    """``total``: ``high * CHUNK + low``, ``low`` kept in ``0 <= low < CHUNK``."""

    __slots__ = ("high", "low")

    def __init__(self) -> None:
        super().__init__()
        self.low = 0  # the sum, below CHUNK
        self.high = 0  # and the CHUNKs above it

    @property
    def total(self) -> int:
        """The sum: of a level, the fillable of the entries in its queue."""
        high = self.high
        return self.low if not high else high * CHUNK + self.low

    def carry(self, low: int) -> None:
        """Set ``low`` (out of its range after a change) back in range, moving ``high``."""
        if -CHUNK <= low < 0:  # the usual borrow (a fill below CHUNK): no divmod, no tuple
            self.low = low + CHUNK
            self.high -= 1
        elif CHUNK <= low < 2 * CHUNK:  # the usual carry
            self.low = low - CHUNK
            self.high += 1
        else:
            high, self.low = divmod(low, CHUNK)
            self.high += high
