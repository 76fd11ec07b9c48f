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
    using Math for uint256;

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
        takerPaid = makerFilled.mulDiv(takerAmount, makerAmount, Math.Rounding.Ceil);
        fee = feeAmount.mulDiv(makerFilled, makerAmount, Math.Rounding.Floor);
    }

    /// @notice Amounts of `matchOrders`: the maximal fill at the resting (left) order's price.
    /// @dev `leftAvailable` is what left may give in this match: its remainder, or less when the
    ///      caller caps it (a maker funded for part of the remainder); `rightFilled` is right's
    ///      fill state; `leftFilled_`/`rightFilled_`
    ///      out are what this match adds: x of left's makerToken X and y of right's makerToken Y.
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
        // right's whole remainder is its budget of Y, spent at left's price
        leftFilled_ = _maxFill(leftAvailable, rightMakerAmount - rightFilled, leftMakerAmount, leftTakerAmount);
        if (leftFilled_ == 0) revert IExchangeEventsAndErrors.ZeroFillAmount(leftHash, rightHash);
        rightFilled_ = leftFilled_.mulDiv(leftTakerAmount, leftMakerAmount, Math.Rounding.Ceil);
        // right's limit y * rightTaker <= x * rightMaker, tested as ceil(y * rightTaker / rightMaker) <= x
        // (equivalent for integer x) so that no 512-bit product is compared
        if (rightFilled_.mulDiv(rightTakerAmount, rightMakerAmount, Math.Rounding.Ceil) > leftFilled_) {
            revert IExchangeEventsAndErrors.PricesDoNotCross(leftHash, rightHash, leftFilled_, rightFilled_);
        }
        leftFee = leftFeeAmount.mulDiv(leftFilled_, leftMakerAmount, Math.Rounding.Floor);
        rightFee = rightFeeAmount.mulDiv(rightFilled_, rightMakerAmount, Math.Rounding.Floor);
    }

    /// @dev The most of `remaining` makerToken that `budget` takerToken buys at the order's price:
    ///      all of it if the budget covers `need`, else floor(budget * makerAmount / takerAmount).
    function _maxFill(uint256 remaining, uint256 budget, uint256 makerAmount, uint256 takerAmount)
        private
        pure
        returns (uint256)
    {
        // takerToken that buys all of `remaining`, rounded up in the maker's favour
        uint256 need = remaining.mulDiv(takerAmount, makerAmount, Math.Rounding.Ceil);
        return budget >= need ? remaining : budget.mulDiv(makerAmount, takerAmount, Math.Rounding.Floor);
    }
}
