"""The book's public values: sides, removal reasons, and read-only views of orders and levels."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from fractions import Fraction

from sdex.order import SignedOrder


class Side(enum.Enum):
    """An ask sells base for quote; a bid sells quote for base."""

    BID = "bid"
    ASK = "ask"

    @property
    def opposite(self) -> Side:
        return Side.ASK if self is Side.BID else Side.BID


class RemovalReason(enum.Enum):
    """Why an order left the book (or stopped being offered while fills are in flight)."""

    FILLED = "filled"
    """Confirmed fills reached the maker amount."""
    CANCELLED = "cancelled"
    """Cancelled on chain or by a signed soft cancel."""
    EXPIRED = "expired"
    """``now >= expiry``: the contract would reject it."""
    SELF_TRADE = "self_trade"
    """An incoming order of the same maker crossed it (expire-maker policy)."""
    UNMATCHED = "unmatched"
    """The unmatched remainder of an IOC or FOK order, dropped by its time in force."""
    DUST = "dust"
    """What is left cannot trade: less than one whole unit at the order's own price (the
    least amount that trades there without rounding), or too little to trade with the
    best price across. Shown to users as ``filled``: nothing tradeable is left."""
    UNFUNDED = "unfunded"
    """The node gave up on it for lack of maker funds (the book itself never removes for this)."""
    INVALID = "invalid"
    """The chain says the order can never fill (bad signature, invalid amounts)."""
    REMOVED = "removed"
    """Any other reason the node has."""


@dataclass(frozen=True, slots=True)
class OrderState:
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

    @property
    def hash(self) -> bytes:
        return self.order.hash

    @property
    def status(self) -> str:
        """The node API's status: ``open``, ``partially_filled``, ``unfunded``, or why closed."""
        if self.closed is not None:
            if self.filled == self.order.order.maker_amount or self.closed is RemovalReason.DUST:
                return "filled"
            return str(self.closed.value)
        o = self.order.order
        if self.fillable == 0 and self.remaining >= unit_of(o.maker_amount, o.taker_amount):
            return "unfunded"  # enough left to trade at its price, but nothing offered
        if self.filled or self.pending:
            return "partially_filled"
        return "open"


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
