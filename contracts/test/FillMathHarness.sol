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

    /// @dev `a` is (leftMakerAmount, leftTakerAmount, leftFeeAmount, leftFilled, rightMakerAmount,
    ///      rightTakerAmount, rightFeeAmount, rightFilled, maxLeftFill) — ABI-encoded exactly like
    ///      nine uint256 arguments, without nine stack slots. The cap is applied as Exchange does.
    function matchAmounts(uint256[9] calldata a)
        external
        pure
        returns (uint256 leftFilled_, uint256 rightFilled_, uint256 leftFee, uint256 rightFee)
    {
        uint256 leftAvailable = a[0] - a[3];
        if (a[8] < leftAvailable) leftAvailable = a[8];
        return LibFill.matchAmounts(bytes32(0), bytes32(0), a[0], a[1], a[2], leftAvailable, a[4], a[5], a[6], a[7]);
    }
}
