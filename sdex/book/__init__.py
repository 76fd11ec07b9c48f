"""The order book: exact price-time priority per token pair, maker funds shared across orders.

Pure Python, no I/O. ``OrderBook`` holds every pair (``PairBook``) and the makers' funds;
``sdex.matching`` matches incoming orders against it.
"""

from __future__ import annotations

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
from sdex.book.pairbook import PairBook
from sdex.book.types import DepthLevel, OrderState, RemovalReason, Side

__all__ = [
    "BookError",
    "DepthLevel",
    "DuplicateOrder",
    "Entry",
    "FillStateError",
    "InvalidOrder",
    "OrderBook",
    "OrderState",
    "PairBook",
    "RemovalReason",
    "Side",
    "UnknownOrder",
    "UnknownPair",
]
