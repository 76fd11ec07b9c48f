"""The book's public values: sides, removal reasons, and read-only views of orders and levels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from sdex.model import OrderStatus, RemovalReason, Side, closed_status
from sdex.order import SignedOrder

__all__ = ["BookOrderState", "DepthLevel", "RemovalReason", "Side", "unit_of"]


@dataclass(frozen=True, slots=True)
class BookOrderState:
    """A read-only view of one order in the book, all amounts in the order's maker token.

    ``filled + pending + remaining == order.maker_amount`` always; ``fillable <= remaining``
    is what the book offers (the maker's funds may cover less than ``remaining``; an order
    that cannot trade now, its funds below one unit at its price, offers 0).
    ``closed`` is set once the order is no longer offered; it stays in the book until its
    pending fills are confirmed or released.
    """

    order: SignedOrder
    side: Side
    seq: int
    filled: int
    pending: int
    remaining: int
    fillable: int
    resting: bool
    closed: RemovalReason | None = None
    lot: int = 0
    """The least it trades (``Entry.lot``: its price unit, or the book's minimum for its
    token in whole units); 0: its price unit."""
    late: bool = False
    """Held apart, open: it expires by when a match could settle (``sdex.book.late``), and
    its maker's funds would let it trade (else it is ``unfunded``)."""

    @property
    def hash(self) -> bytes:
        return self.order.hash

    @property
    def status(self) -> OrderStatus:
        """The node API's status: ``open``, ``partially_filled``, ``unfunded``, or the status
        its removal gives (``sdex.model.closed_status``)."""
        if self.closed is not None:
            filled_all = self.filled == self.order.order.maker_amount
            return closed_status(self.closed.value, filled_all)
        o = self.order.order
        least = self.lot or unit_of(o.maker_amount, o.taker_amount)
        if self.fillable == 0 and self.remaining >= least and not self.late:
            # enough left to trade (its lot, review28: as ``entry_status``), nothing offered
            return OrderStatus.UNFUNDED
        if self.filled or self.pending:
            return OrderStatus.PARTIALLY_FILLED
        return OrderStatus.OPEN


@dataclass(frozen=True, slots=True)
class DepthLevel:
    """One price level as the book offers it.

    ``price`` is exact, in quote per base. ``fillable`` is the sum of the level's fillable
    amounts in the side's maker token (base for asks, quote for bids); ``orders`` counts
    the orders with something fillable.
    """

    price: Fraction
    fillable: int
    orders: int


def unit_of(maker_amount: int, taker_amount: int) -> int:
    """The least maker amount that trades at the order's own price without rounding."""
    return maker_amount // math.gcd(maker_amount, taker_amount)
