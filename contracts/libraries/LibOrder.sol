// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Order} from "../interfaces/IExchange.sol";

/// @title Order hashing and the order's own validity rules
/// @notice The EIP-712 struct hash of an Order; the Exchange wraps it in its domain
///         (`_hashTypedDataV4`). `sdex/order.py` computes the same bytes in Python.
library LibOrder {
    /// @dev keccak256 of the EIP-712 type string, pinned in docs/ARCHITECTURE.md.
    bytes32 internal constant ORDER_TYPEHASH = keccak256(
        "Order(address maker,address taker,address makerToken,address takerToken,"
        "uint256 makerAmount,uint256 takerAmount,address feeRecipient,uint256 feeAmount,"
        "uint64 expiry,uint256 salt)"
    );

    /// @dev Bits 0..254 of a fill slot hold the filled maker amount, so makerAmount stays below 2**255.
    uint256 internal constant MAX_MAKER_AMOUNT = (1 << 255) - 1;

    /// @notice `keccak256(abi.encode(ORDER_TYPEHASH, order.maker, ..., order.salt))`.
    /// @dev All ten fields are static, so the calldata struct is exactly their ten ABI words:
    ///      one calldatacopy after the typehash gives the abi.encode bytes without reading field
    ///      by field. The Exchange reads (and so ABI-validates) every field on its fill paths, so
    ///      an order with dirty high bits reverts there instead of settling under another hash.
    function hash(Order calldata order) internal pure returns (bytes32 result) {
        bytes32 typeHash = ORDER_TYPEHASH;
        assembly ("memory-safe") {
            // Scratch memory past the free pointer; nothing is allocated, so no pointer update.
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            calldatacopy(add(ptr, 0x20), order, 0x140) // 10 fields * 32 bytes
            result := keccak256(ptr, 0x160) // typehash + 10 fields
        }
    }

    /// @notice The amount rules (InvalidOrderAmounts): positive amounts, makerAmount below
    ///         2**255, a fee that fits in what the maker receives, and no fee without a
    ///         recipient (0x0/0 means "no fee"; a fee paid to 0x0 would make every fill revert).
    function hasValidAmounts(Order calldata order) internal pure returns (bool) {
        return order.makerAmount != 0 && order.takerAmount != 0 && order.makerAmount <= MAX_MAKER_AMOUNT
            && order.feeAmount <= order.takerAmount && (order.feeAmount == 0 || order.feeRecipient != address(0));
    }

    /// @notice All validity rules: the amount rules and two distinct tokens (else status INVALID).
    function isValid(Order calldata order) internal pure returns (bool) {
        return hasValidAmounts(order) && order.makerToken != order.takerToken;
    }
}
