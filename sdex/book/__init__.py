"""The order book: exact price-time priority per token pair, maker funds shared across orders.

No I/O. ``OrderBook`` holds every pair (``PairBook``) and the makers' funds;
``sdex.matching`` matches incoming orders against it. Python source, run as it is or
compiled with mypyc: ``sdex.book.native`` decides which, before anything else is imported.
"""

from __future__ import annotations

# First: decides, before they are imported, whether the compiled modules run.
from sdex.book import native  # noqa: F401
from sdex.book.errors import (
    BookError,
    DuplicateOrder,
    FillStateError,
    InvalidOrder,
    UnknownOrder,
    UnknownPair,
)
from sdex.book.levels import Entry
from sdex.book.orderbook import OrderBook
from sdex.book.pairbook import PairBook, entry_status
from sdex.book.types import BookOrderState, DepthLevel, RemovalReason, Side

__all__ = [
    "BookError",
    "BookOrderState",
    "DepthLevel",
    "DuplicateOrder",
    "Entry",
    "FillStateError",
    "InvalidOrder",
    "OrderBook",
    "PairBook",
    "RemovalReason",
    "Side",
    "UnknownOrder",
    "UnknownPair",
    "entry_status",
]
