"""The engine's values: a ``Match`` of two orders, and what happened to an incoming order."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction

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


@dataclass(frozen=True, slots=True)
class Match:
    """One proposed ``matchOrders(left=resting, right=incoming, maxLeftFill)``, amounts as the
    contract computes them: ``amounts.left_filled`` of the resting order's maker token against
    ``amounts.right_filled`` of the incoming's, fees included.

    The settlement passes ``maxLeftFill = amounts.left_filled``. The contract then computes
    exactly these amounts whenever the chain has at least the book's view of both orders
    left (``makerAmount - filled`` on chain >= what the book matched), in any settlement
    order: the cap stops it from taking more of the resting order than the maker's funds
    allowed the engine, and the incoming order's larger on-chain budget cannot lower the fill
    (``x`` buys exactly ``y = ceil(x * takerAmount / makerAmount)``, which the book reserved).
    """

    resting: SignedOrder
    incoming: SignedOrder
    amounts: MatchAmounts
    incoming_side: Side

    @property
    def base_amount(self) -> int:
        """Base traded: given by the ask's maker."""
        a = self.amounts
        return a.left_filled if self.incoming_side is Side.BID else a.right_filled

    @property
    def quote_amount(self) -> int:
        """Quote traded: given by the bid's maker."""
        a = self.amounts
        return a.right_filled if self.incoming_side is Side.BID else a.left_filled

    @property
    def price(self) -> Fraction:
        """The exact trade price in quote per base (at or better than both limits)."""
        return Fraction(self.quote_amount, self.base_amount)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The engine's answer for one incoming order.

    ``remaining`` is the incoming order's remaining maker amount after matching (what
    rests, or what was dropped). ``removed`` lists resting orders the engine took out of
    the book on the way (expired, self-trade), with why.
    """

    order: SignedOrder
    outcome: Outcome
    matches: tuple[Match, ...] = ()
    removed: tuple[tuple[bytes, RemovalReason], ...] = ()
    remaining: int = 0


# For the engine's hot path (``MatchingEngine._walk`` and ``submit`` build their values
# with these, inline). The engine builds a ``MatchAmounts`` and a ``Match`` per match and a
# ``MatchResult`` per order; the frozen dataclass ``__init__`` (``object.__setattr__`` per
# field) costs about twice as much as setting the slots through their descriptors. Same
# values, equal to the dataclass-built ones, immutable afterwards.
new_object = object.__new__
set_resting = Match.__dict__["resting"].__set__
set_incoming = Match.__dict__["incoming"].__set__
set_amounts = Match.__dict__["amounts"].__set__
set_side = Match.__dict__["incoming_side"].__set__
set_order = MatchResult.__dict__["order"].__set__
set_outcome = MatchResult.__dict__["outcome"].__set__
set_matches = MatchResult.__dict__["matches"].__set__
set_removed = MatchResult.__dict__["removed"].__set__
set_remaining = MatchResult.__dict__["remaining"].__set__
set_left_filled = MatchAmounts.__dict__["left_filled"].__set__
set_right_filled = MatchAmounts.__dict__["right_filled"].__set__
set_left_fee = MatchAmounts.__dict__["left_fee"].__set__
set_right_fee = MatchAmounts.__dict__["right_fee"].__set__
