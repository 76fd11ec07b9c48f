// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LibFill} from "../libraries/LibFill.sol";

/// @notice Exposes LibFill for the differential test against `sdex/fillmath.py`. Reverts as
///         the Exchange does, with zero order hashes: ZeroFillAmount(0, 0) or
///         PricesDoNotCross(0, 0, x, y); an overflow or a zero amount panics.
contract FillMathHarness {
    function fillOrderAmounts(
        uint256 makerAmount,
        uint256 takerAmount,
        uint256 feeAmount,
        uint256 filled,
        uint256 takerFillAmount
    ) external pure returns (uint256 makerFilled, uint256 takerPaid, uint256 fee) {
        return LibFill.fillOrderAmounts(bytes32(0), makerAmount, takerAmount, feeAmount, filled, takerFillAmount);
    }

    function matchAmounts(
        uint256 leftMakerAmount,
        uint256 leftTakerAmount,
        uint256 leftFeeAmount,
        uint256 leftFilled,
        uint256 rightMakerAmount,
        uint256 rightTakerAmount,
        uint256 rightFeeAmount,
        uint256 rightFilled
    ) external pure returns (uint256 leftFilled_, uint256 rightFilled_, uint256 leftFee, uint256 rightFee) {
        return LibFill.matchAmounts(
            bytes32(0),
            bytes32(0),
            leftMakerAmount,
            leftTakerAmount,
            leftFeeAmount,
            leftFilled,
            rightMakerAmount,
            rightTakerAmount,
            rightFeeAmount,
            rightFilled
        );
    }
}
