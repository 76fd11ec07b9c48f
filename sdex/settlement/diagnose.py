"""Why a settlement failed: which order of a failed match is at fault, from chain state."""

from __future__ import annotations

from dataclasses import dataclass

from sdex.book.types import RemovalReason
from sdex.chain import OrderState
from sdex.ingest import judge, removal_of
from sdex.matching.match import Match
from sdex.order import SignedOrder


@dataclass(frozen=True, slots=True)
class Verdict:
    """The chain's view of one order after a failed match: drop it, shrink it, or keep it."""

    order_hash: bytes
    remove: RemovalReason | None
    filled: int
    spendable: int
    guilty: bool


def diagnose(match: Match, resting: OrderState, incoming: OrderState) -> tuple[Verdict, Verdict]:
    """Find which order of a failed match is at fault, from its on-chain state.

    Guilty: filled (fully, or more than the book knew), cancelled, expired, signature no
    longer valid, or a maker who can no longer pay its side of the match.
    """

    def verdict(so: SignedOrder, state: OrderState, needed: int, known_filled: int) -> Verdict:
        spendable = min(state.maker_balance, state.maker_allowance)
        remove = removal_of(judge(so, state))  # the node's one verdict on chain state
        guilty = remove is not None or state.filled > known_filled or spendable < needed
        return Verdict(state.hash, remove, state.filled, spendable, guilty)

    a = match.amounts
    return (
        verdict(match.resting, resting, a.left_filled, _filled_before(match, True)),
        verdict(match.incoming, incoming, a.right_filled, _filled_before(match, False)),
    )


def _filled_before(match: Match, resting: bool) -> int:
    # The engine computed amounts from filled' = makerAmount - available; the chain's filled
    # must not exceed makerAmount - (what this match needs) for the match to go through.
    o = (match.resting if resting else match.incoming).order
    need = match.amounts.left_filled if resting else match.amounts.right_filled
    return o.maker_amount - need
