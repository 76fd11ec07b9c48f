// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Order} from "../interfaces/IExchange.sol";

/// @title Order loading, hashing and the order's own validity rules
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

    /// @notice The calldata order copied to memory in one go, its ABI rules checked once
    ///         (addresses fit 160 bits, expiry 64 bits), as the ABI decoder would on each read.
    /// @dev All ten fields are static, so the calldata struct is exactly their ten ABI words.
    ///      Every later read of a field is an MLOAD with no validation. An order with dirty high
    ///      bits reverts here (empty revert data, like the ABI decoder) instead of settling under
    ///      another hash than the one its fields would give.
    function load(Order calldata order) internal pure returns (Order memory o) {
        assembly ("memory-safe") {
            calldatacopy(o, order, 0x140) // 10 fields * 32 bytes, over the zeroed struct
            let dirty := or(shr(160, mload(o)), shr(160, mload(add(o, 0x20)))) // maker, taker
            dirty := or(dirty, or(shr(160, mload(add(o, 0x40))), shr(160, mload(add(o, 0x60))))) // tokens
            dirty := or(dirty, or(shr(160, mload(add(o, 0xc0))), shr(64, mload(add(o, 0x100))))) // fee recipient, expiry
            if dirty { revert(0, 0) }
        }
    }

    /// @notice `keccak256(abi.encode(ORDER_TYPEHASH, order.maker, ..., order.salt))`.
    /// @dev A memory Order is its ten words in field order, so the hash is one KECCAK256 over
    ///      the typehash written into the word before the struct (restored afterwards).
    function hash(Order memory order) internal pure returns (bytes32 result) {
        bytes32 typeHash = ORDER_TYPEHASH;
        assembly ("memory-safe") {
            let before := sub(order, 0x20)
            let saved := mload(before)
            mstore(before, typeHash)
            result := keccak256(before, 0x160) // typehash + 10 fields
            mstore(before, saved)
        }
    }

    /// @notice The amount rules (InvalidOrderAmounts): positive amounts, makerAmount below
    ///         2**255, a fee that fits in what the maker receives, and no fee without a
    ///         recipient (0x0/0 means "no fee"; a fee paid to 0x0 would make every fill revert).
    function hasValidAmounts(Order memory order) internal pure returns (bool) {
        return order.makerAmount != 0 && order.takerAmount != 0 && order.makerAmount <= MAX_MAKER_AMOUNT
            && order.feeAmount <= order.takerAmount && (order.feeAmount == 0 || order.feeRecipient != address(0));
    }

    /// @notice All validity rules: the amount rules and two distinct tokens (else status INVALID).
    function isValid(Order memory order) internal pure returns (bool) {
        return hasValidAmounts(order) && order.makerToken != order.takerToken;
    }
}
