"""The Exchange contract's fill arithmetic, mirrored exactly in Python integers.

Each function here has a Solidity twin in ``contracts/libraries/LibFill.sol``; the
differential test ``tests/test_fillmath_differential.py`` runs both on the same inputs.
The formulas and their rounding directions are written out in ``docs/ARCHITECTURE.md``.
Rounding always favours the maker whose price is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

UINT256_MAX = 2**256 - 1
MAX_MAKER_AMOUNT = 2**255 - 1
"""Bit 255 of an order's fill slot is the cancel flag, so maker amounts stay below it."""


class FillMathError(ArithmeticError):
    """A fill that the contract would revert: no amount can be traded, or prices don't cross."""


class ZeroFillAmount(FillMathError):
    """The computed fill is zero (mirrors the contract's ``ZeroFillAmount``)."""


class PricesDoNotCross(FillMathError):
    """The incoming order's limit fails at the resting price (``PricesDoNotCross``)."""


def mul_div_floor(a: int, b: int, d: int) -> int:
    """``floor(a*b/d)`` as OpenZeppelin ``Math.mulDiv`` computes it (reverts past 2**256-1)."""
    if d == 0:
        raise ZeroDivisionError("mulDiv by zero")
    q = a * b // d
    if q > UINT256_MAX:
        raise OverflowError("mulDiv result exceeds uint256")
    return q


def mul_div_ceil(a: int, b: int, d: int) -> int:
    """``ceil(a*b/d)`` as ``Math.mulDiv(a, b, d, Rounding.Ceil)`` computes it."""
    if d == 0:
        raise ZeroDivisionError("mulDiv by zero")
    q = -(-(a * b) // d)
    if q > UINT256_MAX:
        raise OverflowError("mulDiv result exceeds uint256")
    return q


@dataclass(frozen=True, slots=True)
class Fill:
    """What one ``fillOrder`` moves: ``maker_filled`` of makerToken against ``taker_paid``."""

    maker_filled: int
    taker_paid: int
    fee: int


@dataclass(frozen=True, slots=True)
class MatchAmounts:
    """What one ``matchOrders`` moves.

    ``left_filled`` is X (left's makerToken) given by left; ``right_filled`` is Y (right's
    makerToken) given by right. Each fee is paid by that order's maker in its takerToken.
    """

    left_filled: int
    right_filled: int
    left_fee: int
    right_fee: int


def fill_order_amounts(
    maker_amount: int,
    taker_amount: int,
    fee_amount: int,
    filled: int,
    taker_fill_amount: int,
) -> Fill:
    """Amounts of ``fillOrder(order, sig, taker_fill_amount)`` given the order's ``filled``."""
    remaining = maker_amount - filled
    need = mul_div_ceil(remaining, taker_amount, maker_amount)
    if taker_fill_amount >= need:
        x = remaining
    else:
        x = mul_div_floor(taker_fill_amount, maker_amount, taker_amount)
    if x == 0:
        raise ZeroFillAmount("fill amount rounds to zero")
    y = mul_div_ceil(x, taker_amount, maker_amount)
    fee = mul_div_floor(fee_amount, x, maker_amount)
    return Fill(maker_filled=x, taker_paid=y, fee=fee)


def match_amounts(
    left_maker_amount: int,
    left_taker_amount: int,
    left_fee_amount: int,
    left_filled: int,
    right_maker_amount: int,
    right_taker_amount: int,
    right_fee_amount: int,
    right_filled: int,
    max_left_fill: int = UINT256_MAX,
) -> MatchAmounts:
    """Amounts of ``matchOrders(left, right, maxLeftFill)``: the maximal fill at the resting
    (left) price, taking at most ``max_left_fill`` of left's maker token."""
    left_rem = min(left_maker_amount - left_filled, max_left_fill)
    right_rem = right_maker_amount - right_filled
    need = mul_div_ceil(left_rem, left_taker_amount, left_maker_amount)
    if right_rem >= need:
        x = left_rem
    else:
        x = mul_div_floor(right_rem, left_maker_amount, left_taker_amount)
    if x == 0:
        raise ZeroFillAmount("match amount rounds to zero")
    y = mul_div_ceil(x, left_taker_amount, left_maker_amount)
    # right's limit y * right.takerAmount <= x * right.makerAmount, without a 512-bit product
    if mul_div_ceil(y, right_taker_amount, right_maker_amount) > x:
        raise PricesDoNotCross("incoming limit price not met at the resting price")
    return MatchAmounts(
        left_filled=x,
        right_filled=y,
        left_fee=mul_div_floor(left_fee_amount, x, left_maker_amount),
        right_fee=mul_div_floor(right_fee_amount, y, right_maker_amount),
    )
