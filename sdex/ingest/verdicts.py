"""The intake's verdicts on an order, apart from how it got them: accepted, known or
rejected, from the chain's state of it (``judge``) and the order itself
(``taker_never_trades``). Pure: no state, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from sdex.chain import OrderState, OrderStatus
from sdex.ingest.rejections import Rejection, RejectionCode
from sdex.model import RemovalReason
from sdex.order import ZERO_ADDRESS, Order, SignedOrder


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid, fillable, funded order and the chain state it was checked against."""

    signed: SignedOrder
    state: OrderState


@dataclass(frozen=True, slots=True)
class Known:
    """An order this node already holds (a repeat post or a gossip echo): nothing to do."""

    hash: bytes


IntakeResult = Accepted | Known | Rejection


def verdict_of(signed: SignedOrder, ecdsa_ok: bool | None, state: OrderState) -> IntakeResult:
    """``judge``'s verdict, said as the chain's where the ECDSA check and the chain differ."""
    if ecdsa_ok and not state.signature_valid:  # the chain is the judge; say so if we differ
        why = "the Exchange rejects this signature"
        return Rejection.of(RejectionCode.INVALID_SIGNATURE, why).of_order(signed.hash)
    verdict = judge(signed, state)
    return verdict.of_order(signed.hash) if isinstance(verdict, Rejection) else verdict


def judge(signed: SignedOrder, state: OrderState) -> Accepted | Rejection:
    """Accept an order only if the chain says it is fillable, signed and funded."""
    if not state.signature_valid:
        return Rejection.of(RejectionCode.INVALID_SIGNATURE)
    if state.status == OrderStatus.FILLED:
        return Rejection.of(RejectionCode.FULLY_FILLED)
    if state.status == OrderStatus.CANCELLED:
        return Rejection.of(RejectionCode.CANCELLED)
    if state.status == OrderStatus.EXPIRED:
        return Rejection.of(RejectionCode.EXPIRED)
    if state.status != OrderStatus.FILLABLE:
        return Rejection.of(RejectionCode.INVALID_AMOUNTS)
    if min(state.maker_balance, state.maker_allowance) == 0:
        return Rejection.of(RejectionCode.UNFUNDED)
    return Accepted(signed, state)


def removal_of(verdict: Accepted | Rejection) -> RemovalReason | None:
    """Why a booked order must leave, by ``judge``'s verdict on its chain state: None while
    the chain would fill it (accepted, or only unfunded)."""
    return None if isinstance(verdict, Accepted) else verdict.code.removal


def taker_never_trades(o: Order, exchange: str) -> str:
    """Why no counterparty can ever take ``o`` (a restricted taker), or "".

    The contract takes ``o.taker`` to be the other order's maker in a match and the caller
    in ``fillOrder``. An order restricted to another address can trade here, with that
    address's orders, whoever settles; but not one restricted to its own maker (only the
    same maker's orders could take it, and a node never matches a maker with itself: the
    pair is removed as a self-trade), nor to the Exchange contract (``exchange``), which
    neither signs orders nor calls ``fillOrder``."""
    if o.taker == ZERO_ADDRESS:
        return ""
    if o.taker == o.maker:
        return (
            "taker is the order's own maker: only that maker's own orders could take it, "
            "and a maker never trades with itself here (a self-trade), so it would rest "
            "forever; use the zero address to trade with anyone"
        )
    if o.taker == exchange.lower():
        return "taker is the Exchange contract, which never takes an order"
    return ""
