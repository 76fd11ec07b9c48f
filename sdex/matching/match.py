"""The engine's values: a ``Match`` of two orders, and what happened to an incoming order."""

from __future__ import annotations

import enum
from fractions import Fraction
from typing import Final

from sdex.book.levels import Entry
from sdex.book.types import RemovalReason, Side
from sdex.fillmath import MatchAmounts
from sdex.model import MatchOutcome
from sdex.order import SignedOrder

Outcome = MatchOutcome
"""(``sdex.model.MatchOutcome``, under the name this module has always exported.)"""


class TimeInForce(enum.Enum):
    """How long an incoming order stays: node-side only, the contract knows nothing of it."""

    GTC = "gtc"
    """Good till cancelled (or expiry): match what crosses, rest the remainder."""
    IOC = "ioc"
    """Immediate or cancel: match what crosses, drop the remainder."""
    FOK = "fok"
    """Fill or kill: match the full amount at once, or nothing at all."""


class _Value:
    """Equality and hash by ``_key()``, for values of one class (what a dataclass gives)."""

    def _key(self) -> tuple[object, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Value) or type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class Match(_Value):
    """One proposed ``matchOrders(left=resting, right=incoming, maxLeftFill)``, amounts as the
    contract computes them: ``amounts.left_filled`` of the resting order's maker token against
    ``amounts.right_filled`` of the incoming's, fees included.

    The settlement passes ``maxLeftFill = amounts.left_filled``. The contract then computes
    exactly these amounts whenever the chain has at least the book's view of both orders
    left (``makerAmount - filled`` on chain >= what the book matched), in any settlement
    order: the cap stops it from taking more of the resting order than the maker's funds
    allowed the engine, and the incoming order's larger on-chain budget cannot lower the fill
    (``x`` buys exactly ``y = ceil(x * takerAmount / makerAmount)``, which the book reserved).

    A value (equal and hashed by its fields, immutable) but not a dataclass: compiled by
    mypyc with its ``Final`` attributes (read-only at run time there too), the engine builds
    one per match natively (a frozen dataclass's ``__init__`` costs ten times more). The
    amounts are kept as ints (``left_filled`` ... ``right_fee``); ``amounts`` is their
    ``MatchAmounts``. The engine also passes the book's records of both orders
    (``resting_entry``, ``incoming_entry``: not part of the value), so that confirming the
    match needs no lookup by hash.
    """

    def __init__(
        self,
        resting: SignedOrder,
        incoming: SignedOrder,
        amounts: MatchAmounts | None,
        incoming_side: Side,
        left_filled: int = 0,
        right_filled: int = 0,
        left_fee: int = 0,
        right_fee: int = 0,
        resting_entry: Entry | None = None,
        incoming_entry: Entry | None = None,
    ) -> None:
        """``Match(resting, incoming, amounts, incoming_side)``; the engine passes ``None``
        for ``amounts`` and the four amounts and both records after it."""
        if amounts is not None:
            left_filled = amounts.left_filled
            right_filled = amounts.right_filled
            left_fee = amounts.left_fee
            right_fee = amounts.right_fee
        self.resting: Final = resting
        self.incoming: Final = incoming
        self.incoming_side: Final = incoming_side
        self.left_filled: Final = left_filled
        self.right_filled: Final = right_filled
        self.left_fee: Final = left_fee
        self.right_fee: Final = right_fee
        self.resting_entry: Final = resting_entry
        self.incoming_entry: Final = incoming_entry

    @property
    def amounts(self) -> MatchAmounts:
        """What the match moves (``left`` = resting, ``right`` = incoming)."""
        return MatchAmounts(self.left_filled, self.right_filled, self.left_fee, self.right_fee)

    @property
    def base_amount(self) -> int:
        """Base traded: given by the ask's maker."""
        return self.left_filled if self.incoming_side is Side.BID else self.right_filled

    @property
    def quote_amount(self) -> int:
        """Quote traded: given by the bid's maker."""
        return self.right_filled if self.incoming_side is Side.BID else self.left_filled

    @property
    def price(self) -> Fraction:
        """The exact trade price in quote per base (at or better than both limits)."""
        return Fraction(self.quote_amount, self.base_amount)

    def _key(self) -> tuple[object, ...]:
        return (
            self.resting,
            self.incoming,
            self.left_filled,
            self.right_filled,
            self.left_fee,
            self.right_fee,
            self.incoming_side,
        )

    def __repr__(self) -> str:
        return (
            f"Match(resting={self.resting!r}, incoming={self.incoming!r}, "
            f"amounts={self.amounts!r}, incoming_side={self.incoming_side!r})"
        )


class MatchResult(_Value):
    """The engine's answer for one incoming order.

    ``remaining`` is the incoming order's remaining maker amount after matching (what
    rests, or what was dropped). ``removed`` lists resting orders the engine took out of
    the book on the way (expired, self-trade), with why. A value like ``Match`` (and not a
    dataclass for the same reason).
    """

    def __init__(
        self,
        order: SignedOrder,
        outcome: Outcome,
        matches: tuple[Match, ...] = (),
        removed: tuple[tuple[bytes, RemovalReason], ...] = (),
        remaining: int = 0,
    ) -> None:
        self.order: Final = order
        self.outcome: Final = outcome
        self.matches: Final = matches
        self.removed: Final = removed
        self.remaining: Final = remaining

    def _key(self) -> tuple[object, ...]:
        return (self.order, self.outcome, self.matches, self.removed, self.remaining)

    def __repr__(self) -> str:
        return (
            f"MatchResult(order={self.order!r}, outcome={self.outcome!r}, "
            f"matches={self.matches!r}, removed={self.removed!r}, remaining={self.remaining!r})"
        )
