"""Maker funds shared by all of a maker's orders that sell one token, across pairs.

The node reports each (maker, token) ``spendable = min(balance, allowance)``. Fills in
flight (``pending``) will spend their share first; what is left goes to the maker's open
orders in time priority (arrival ``seq``), greedily: each takes ``min(remaining, left)``.
An order's ``fillable`` is that allocation, so the book never offers more than the maker
can deliver.

Most accounts are fully funded (``open + reserved <= spendable``): then every order's
fillable is its remaining and a change to one order touches only that order. Only an
underfunded account reallocates, in O(its orders). Reserving a fill out of an order's
fillable never changes the other orders' allocations (``left`` drops by what the order's
remaining drops), so matching stays O(1) per fill.

An order parked in its level (nothing fillable) that gets something here goes back into
its level's queue (``Level.unpark``): this is the only place a fillable amount grows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdex.book.levels import Entry


class Account:
    """One (maker, token): its spendable amount and the open orders that share it."""

    __slots__ = ("explicit", "funded", "maker", "open", "orders", "reserved", "spendable", "token")

    def __init__(self, maker: str, token: str, spendable: int | None) -> None:
        self.maker = maker
        self.token = token
        self.spendable = spendable  # None: no cap
        self.explicit = False  # set by the node (kept in snapshots), not the book's default
        self.reserved = 0  # sum of pending over the maker's orders selling this token
        self.open = 0  # sum of remaining over those orders that are still offered
        self.orders: dict[bytes, Entry] = {}  # offered orders, in seq order
        self.funded = True  # at the last refresh every order had fillable == remaining

    def refresh(self, changed: Entry | None = None) -> None:
        """Recompute fillable after ``changed``'s remaining (or ``spendable``) moved."""
        spendable = self.spendable
        if spendable is None or self.open + self.reserved <= spendable:
            if self.funded:
                if changed is not None and changed.closed is None:
                    rem = changed.maker_amount - changed.filled - changed.pending
                    changed.fillable = rem
                    if rem and changed.parked:
                        _unpark(changed)
            else:
                for e in self.orders.values():
                    rem = e.maker_amount - e.filled - e.pending
                    e.fillable = rem
                    if rem and e.parked:
                        _unpark(e)
                self.funded = True
            return
        left = spendable - self.reserved
        for e in self.orders.values():
            if left <= 0:
                e.fillable = 0
                continue
            rem = e.maker_amount - e.filled - e.pending
            take = rem if rem < left else left
            e.fillable = take
            if take and e.parked:
                _unpark(e)
            left -= take
        self.funded = False


def _unpark(e: Entry) -> None:
    level = e.level
    assert level is not None  # a parked entry rests at a level
    level.unpark(e)
