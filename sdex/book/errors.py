"""Errors the order book raises. A rejected order is data elsewhere (``sdex.ingest``); these
are programming or protocol errors: the caller asked the book for something impossible.

    SdexError
    └── BookError
        ├── InvalidOrder (ValueError)        amounts the contract would reject
        │   └── UnknownPair                  the order's tokens are no pair of this book
        ├── DuplicateOrder (ValueError)      that order hash is already in the book
        ├── UnknownOrder (KeyError)          no order with that hash is in the book
        └── FillStateError (ValueError)      reserve/confirm/release beyond what the order has
"""

from __future__ import annotations

from sdex.errors import SdexError


class BookError(SdexError):
    """Root of the order book's errors."""


class InvalidOrder(BookError, ValueError):
    """The order's amounts or tokens fail the contract's validity rules."""


class UnknownPair(InvalidOrder):
    """The order sells and buys tokens that form none of this book's pairs."""


class DuplicateOrder(BookError, ValueError):
    """An order with this hash is already in the book (open, or with fills in flight)."""


class UnknownOrder(BookError, KeyError):
    """No order with this hash is in the book."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown order"


class FillStateError(BookError, ValueError):
    """A fill update that does not fit the order: more than fillable, or than pending."""
