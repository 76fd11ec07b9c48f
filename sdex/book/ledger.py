"""What a maker can pay of one token, and what its open orders owe: the ledger under each
``Account`` (``sdex.book.levels``), which adds the orders themselves.

The node reports each (maker, token) ``spendable = min(balance, allowance)``; confirmed fills
spend it; ``open`` (the remaining of the open orders) and ``reserved`` (their fills in
flight) are what the book may ask of it (``sdex.book.funds`` shares it out among the
orders). Pure arithmetic: imports nothing of ``sdex``."""

from __future__ import annotations

from typing import Final

_BIG: Final = 2**61
_FOLD: Final = 2**60  # (machine ints in the compiled book are below 2**62)


class Ledger:
    """One (maker, token)'s spendable amount and what its open orders owe.

    The spendable amount is kept as ``base - spent``: ``base`` as the node reported it
    (``None``: no cap), ``spent`` what confirmed fills took since. Reported amounts are
    often far past 62 bits (an allowance of ``2**256 - 1``, 10**30 wei) while fills are
    small: so confirms add to a machine-sized ``spent``, and while ``base`` is at least
    ``_BIG`` and the sums compared stay under ``_FOLD`` the checks need no arithmetic on
    ``base`` at all (``covers``, ``spend``). ``spendable`` is the exact amount.
    """

    __slots__ = ("base", "big", "open", "reserved", "spent")

    def __init__(self, spendable: int | None) -> None:
        self.base = spendable  # None: no cap
        self.spent = 0  # confirmed since ``base`` was set
        self.big = spendable is not None and spendable >= _BIG
        self.reserved = 0  # sum of pending over the maker's orders selling this token
        self.open = 0  # sum of remaining over its open orders

    @property
    def spendable(self) -> int | None:
        """What the maker can still deliver (``None``: no cap)."""
        base = self.base
        return None if base is None else base - self.spent

    def set_spendable(self, amount: int | None) -> None:
        self.base = amount
        self.spent = 0
        self.big = amount is not None and amount >= _BIG

    def covers(self) -> bool:
        """Whether it can pay every open order in full: ``open + reserved <= spendable``."""
        base = self.base
        if base is None:
            return True
        need = self.open + self.reserved + self.spent
        if self.big and need < _FOLD:  # base >= _BIG > need (machine ints only)
            return True
        return need <= base

    def spend(self, amount: int) -> bool:
        """Take ``amount`` (>= 0) out of spendable if it has that much; else change nothing
        and return False."""
        base = self.base
        if base is None:
            return True
        spent = self.spent + amount
        if self.big and spent < _FOLD:  # spendable >= _BIG - _FOLD > spent >= amount
            self.spent = spent
            return True
        left = base - self.spent
        if left < amount:
            return False
        self.set_spendable(left - amount)  # folds ``spent`` into ``base``
        return True
