"""The least an incoming order gives in one match (the walk's, FOK's as every order's)."""

from __future__ import annotations

from sdex.book.levels import Entry


def least_given(inc: Entry, minimums: dict[str, int] | None) -> int:
    """The least ``inc`` gives in one match as the incoming side: the book's minimum for its
    maker token, or 1. (Not its lot: what it gives is at the resting order's price, and
    need not be whole units of its own.)"""
    if minimums:
        least = minimums.get(inc.order.maker_token, 0)
        if least > 1:
            return least
    return 1
