"""Maker funds shared by all of a maker's orders that sell one token, across pairs.

The node reports each (maker, token) ``spendable = min(balance, allowance)``. Fills in
flight (``pending``) will spend their share first; what is left goes to the maker's open
orders in time priority (arrival ``seq``), greedily: each takes ``min(remaining, left)``.
An order's ``fillable`` is that allocation, so the book never offers more than the maker
can deliver.

``allocate`` is pure: it reads an ``Account`` and returns the orders whose fillable
changes, with their new amounts; ``OrderBook`` applies them (and parks or unparks the
orders). Most accounts are fully funded (``open + reserved <= spendable``): then every
order's fillable is its remaining and a change to one order touches only that order
(``OrderBook`` keeps that path inline). Only an underfunded account reallocates, in
O(its orders). Reserving a fill out of an order's fillable never changes the other orders'
allocations (``left`` drops by what the order's remaining drops), so matching stays O(1)
per fill.
"""

from __future__ import annotations

from sdex.book.levels import Account, Entry


def covers(account: Account) -> bool:
    """Whether the account can pay every open order in full."""
    return account.covers()


def allocate(account: Account) -> tuple[list[tuple[Entry, int]], bool]:
    """The new fillable of every open order of ``account`` whose fillable changes, and
    whether the account now covers all of them (``Account.funded``)."""
    changes: list[tuple[Entry, int]] = []
    if covers(account):
        for e in account.orders:
            if e.closed is None:
                rem = e.maker_amount - e.filled - e.pending
                if e.fillable != rem:
                    changes.append((e, rem))
        return changes, True
    spendable = account.spendable
    assert spendable is not None  # covers() is true without a cap
    left = spendable - account.reserved
    for e in account.orders:
        if e.closed is not None:
            continue
        if left <= 0:
            take = 0
        else:
            rem = e.maker_amount - e.filled - e.pending
            take = rem if rem < left else left
            left -= take
        if e.fillable != take:
            changes.append((e, take))
    return changes, False
