// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IExchangeEventsAndErrors} from "../interfaces/IExchange.sol";

/// @title The Exchange's fill arithmetic
/// @notice The formulas of docs/ARCHITECTURE.md "Arithmetic", mirrored bit for bit by
///         `sdex/fillmath.py`. Rounding always favours the maker whose price is applied.
/// @dev Inputs come from orders that passed the validity rules (makerAmount, takerAmount > 0,
///      feeAmount <= takerAmount) and fill states with filled <= makerAmount; under those, every
///      mulDiv quotient is bounded by an order amount, so nothing overflows. The hashes are only
///      carried into the revert data.
library LibFill {
    /// @notice Amounts of `fillOrder`: the caller offers up to `takerFillAmount` takerToken.
    /// @param orderHash Reported in ZeroFillAmount(orderHash, 0).
    /// @return makerFilled x: makerToken the maker gives.
    /// @return takerPaid   y: takerToken the caller pays, fee included (y <= takerFillAmount).
    /// @return fee         takerToken of y that goes to the fee recipient.
    function fillOrderAmounts(
        bytes32 orderHash,
        uint256 makerAmount,
        uint256 takerAmount,
        uint256 feeAmount,
        uint256 filled,
        uint256 takerFillAmount
    ) internal pure returns (uint256 makerFilled, uint256 takerPaid, uint256 fee) {
        makerFilled = _maxFill(makerAmount - filled, takerFillAmount, makerAmount, takerAmount);
        if (makerFilled == 0) revert IExchangeEventsAndErrors.ZeroFillAmount(orderHash, bytes32(0));
        takerPaid = _mulDiv(makerFilled, takerAmount, makerAmount, true);
        fee = feeFor(feeAmount, makerFilled, makerAmount);
    }

    /// @notice Amounts of `matchOrders`: the maximal fill at the resting (left) order's price.
    /// @dev `leftAvailable` is what left may give in this match: its remainder, or less when the
    ///      caller caps it (a maker funded for part of the remainder); `rightFilled` is right's
    ///      fill state; `leftFilled_`/`rightFilled_`
    ///      out are what this match adds: x of left's makerToken X and y of right's makerToken Y.
    ///      Reverts like the Exchange; the Exchange itself uses the parts below, which report
    ///      instead of reverting so that a batch can skip a match without a call frame.
    /// @return leftFilled_  x: X that left's maker gives.
    /// @return rightFilled_ y: Y that right's maker gives.
    /// @return leftFee      Y paid by left's maker to left's fee recipient.
    /// @return rightFee     X paid by right's maker to right's fee recipient.
    function matchAmounts(
        bytes32 leftHash,
        bytes32 rightHash,
        uint256 leftMakerAmount,
        uint256 leftTakerAmount,
        uint256 leftFeeAmount,
        uint256 leftAvailable,
        uint256 rightMakerAmount,
        uint256 rightTakerAmount,
        uint256 rightFeeAmount,
        uint256 rightFilled
    ) internal pure returns (uint256 leftFilled_, uint256 rightFilled_, uint256 leftFee, uint256 rightFee) {
        (leftFilled_, rightFilled_) =
            matchFill(leftMakerAmount, leftTakerAmount, leftAvailable, rightMakerAmount - rightFilled);
        if (leftFilled_ == 0) revert IExchangeEventsAndErrors.ZeroFillAmount(leftHash, rightHash);
        if (!meetsLimit(leftFilled_, rightFilled_, rightMakerAmount, rightTakerAmount)) {
            revert IExchangeEventsAndErrors.PricesDoNotCross(leftHash, rightHash, leftFilled_, rightFilled_);
        }
        leftFee = feeFor(leftFeeAmount, leftFilled_, leftMakerAmount);
        rightFee = feeFor(rightFeeAmount, rightFilled_, rightMakerAmount);
    }

    /// @notice x and y of a match at left's price: right's whole remainder `rightRemaining` is
    ///         its budget of Y. x == 0 means ZeroFillAmount; the limit check is `meetsLimit`.
    function matchFill(uint256 leftMakerAmount, uint256 leftTakerAmount, uint256 leftAvailable, uint256 rightRemaining)
        internal
        pure
        returns (uint256 x, uint256 y)
    {
        x = _maxFill(leftAvailable, rightRemaining, leftMakerAmount, leftTakerAmount);
        y = _mulDiv(x, leftTakerAmount, leftMakerAmount, true);
    }

    /// @notice Whether giving y of right's makerToken for x keeps right's limit price:
    ///         y * rightTaker <= x * rightMaker, tested as ceil(y * rightTaker / rightMaker) <= x
    ///         (equivalent for integer x) so that no 512-bit product is compared.
    function meetsLimit(uint256 x, uint256 y, uint256 rightMakerAmount, uint256 rightTakerAmount)
        internal
        pure
        returns (bool)
    {
        return _mulDiv(y, rightTakerAmount, rightMakerAmount, true) <= x;
    }

    /// @notice An order's fee for a fill of `filled` makerToken: floor(feeAmount * filled / makerAmount).
    function feeFor(uint256 feeAmount, uint256 filled, uint256 makerAmount) internal pure returns (uint256) {
        if (feeAmount == 0) return 0; // most orders carry no fee: skip the mulDiv
        return _mulDiv(feeAmount, filled, makerAmount, false);
    }

    /// @dev The most of `remaining` makerToken that `budget` takerToken buys at the order's price:
    ///      all of it if the budget covers `need`, else floor(budget * makerAmount / takerAmount).
    function _maxFill(uint256 remaining, uint256 budget, uint256 makerAmount, uint256 takerAmount)
        private
        pure
        returns (uint256)
    {
        // takerToken that buys all of `remaining`, rounded up in the maker's favour
        uint256 need = _mulDiv(remaining, takerAmount, makerAmount, true);
        return budget >= need ? remaining : _mulDiv(budget, makerAmount, takerAmount, false);
    }

    /// @dev a * b / d rounded down (or up): Math.mulDiv's result. When a * b fits 256 bits (amounts
    ///      of real tokens always do) it is one MUL, DIV and MOD; else, or for d == 0 (which
    ///      panics there), Math.mulDiv itself.
    function _mulDiv(uint256 a, uint256 b, uint256 d, bool up) private pure returns (uint256 q) {
        bool fits;
        assembly ("memory-safe") {
            let prod := mul(a, b)
            fits := and(gt(d, 0), or(iszero(a), eq(div(prod, a), b)))
            if fits { q := add(div(prod, d), and(up, gt(mod(prod, d), 0))) }
        }
        if (!fits) q = Math.mulDiv(a, b, d, up ? Math.Rounding.Ceil : Math.Rounding.Floor);
    }
}
