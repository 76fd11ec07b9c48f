"""Maker funds shared by all of a maker's orders that sell one token, across pairs.

The node reports each (maker, token) ``spendable = min(balance, allowance)``. Fills in
flight (``pending``) will spend their share first; what is left goes to the maker's open
orders in time priority (arrival ``seq``), greedily: each takes ``min(remaining, left)``,
except that a share the order cannot trade with (less than its remaining and less than its
``lot``, the least it trades) is not taken: the order gets 0 and the funds go on to the
maker's next orders; what none of them can use goes to the oldest order passed over. (Else
one never-fundable order, its lot beyond the maker's funds, would hold them all while
offering nothing: attack29.) An order's ``fillable`` is that allocation, so the book never
offers more than the maker can deliver; every node computes it alike from the same orders
and funds.

``allocate`` is pure and canonical: a function of the account's open orders in ``seq``
order, their filled and pending amounts, and the funds only, never of the path that led
there; every node computes the same from the same orders and funds, and every incremental
change the book makes must leave exactly what ``allocate`` from scratch gives
(``tests/test_book_state.py`` checks it after every step). ``OrderBook`` applies it (and
parks or unparks the orders). Most accounts are fully funded (``open + reserved <=
spendable``): then every order's fillable is its remaining and a change to one order touches
only that order (``OrderBook`` keeps that path inline). An underfunded account is
reallocated from scratch, O(its orders; intake caps a maker's open orders), on every change
of its orders or funds but two that provably change no other order: a settled fill
(``confirm``: spendable and reserved drop alike, remaining stays), and a reservation that
leaves the order its whole remaining, or at least its lot (``fill``, ``reserve_entry``:
remaining and the funds left for later orders drop alike). A reservation that leaves an
underfunded order's partial share below its lot passes it over: the maker is reallocated
(``OrderBook.reshare``, after the matching walk).
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
    first: Entry | None = None  # the oldest order passed over: it gets what none could use
    for e in account.orders:  # one pass, no list of shares (compiled: no boxed ints)
        if e.closed is not None:
            continue
        if left <= 0:
            take = 0
        else:
            rem = e.maker_amount - e.filled - e.pending
            if rem <= left:
                take = rem
                left -= rem
            elif left >= e.lot:
                take = left
                left = 0
            else:
                if first is None:  # decided once the others have taken theirs
                    first = e
                    continue
                take = 0  # it cannot trade with what is left: the next orders may
        if e.fillable != take:
            changes.append((e, take))
    if first is not None:
        take = left if left > 0 else 0  # (less than its lot: it stays parked)
        if first.fillable != take:
            changes.append((first, take))
    return changes, False
