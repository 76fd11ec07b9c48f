// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Order, IExchangeEventsAndErrors} from "../interfaces/IExchange.sol";

/// @title The packed calldata of matchOrdersPacked
/// @notice One match in about 60% of matchOrders' ABI bytes (docs/ARCHITECTURE.md "Packed
///         match"): no offsets, no padding, fields that are zero left out, amounts without
///         their leading zero bytes, and the incoming order's tokens not sent at all (a match
///         trades them the other way round). The orders decode to the same ten fields, so their
///         EIP-712 hashes and signatures are those of the orders the makers signed.
/// @dev After the 4-byte selector:
///        flags    1 byte: bit 0 left has a taker, bit 1 left has a fee (recipient and amount),
///                 bit 2 right has a taker, bit 3 right has a fee, bit 4 maxLeftFill is sent
///                 (else type(uint256).max); other bits must be 0
///        [maxLeftFill]                              uint
///        left     maker 20, [taker 20], makerToken 20, takerToken 20, makerAmount uint,
///                 takerAmount uint, [feeRecipient 20, feeAmount uint], expiry 8, salt uint
///        right    as left without makerToken and takerToken (left's takerToken, makerToken)
///        leftSignature  length 2, bytes;  rightSignature  length 2, bytes
///      where `uint` is one length byte n (0..32) and n big-endian bytes. The data must end
///      exactly there. Every value is read by shifting, so no field can carry dirty bits.
library LibPacked {
    /// @notice The match in calldata after the selector.
    /// @dev One assembly block with a cursor `p`: each field is a CALLDATALOAD and a shift.
    ///      Reads past the end give zeros; the final size check rejects such data.
    function decode()
        internal
        pure
        returns (
            Order memory left,
            bytes calldata leftSignature,
            Order memory right,
            bytes calldata rightSignature,
            uint256 maxLeftFill
        )
    {
        uint256 p;
        bool bad;
        assembly ("memory-safe") {
            let flags := byte(0, calldataload(4))
            bad := gt(flags, 31)
            p := 5
            // a uint: length byte n <= 32, then n big-endian bytes (a shift by 256 gives 0)
            function uint_(q) -> v, next, wrong {
                let n := byte(0, calldataload(q))
                wrong := gt(n, 32)
                v := shr(shl(3, sub(32, n)), calldataload(add(q, 1)))
                next := add(add(q, 1), n)
            }
            function order_(o, q, hasTaker, hasFee, hasTokens) -> next, wrong {
                mstore(o, shr(96, calldataload(q))) // maker
                q := add(q, 20)
                if hasTaker {
                    mstore(add(o, 0x20), shr(96, calldataload(q)))
                    q := add(q, 20)
                }
                if hasTokens {
                    mstore(add(o, 0x40), shr(96, calldataload(q)))
                    mstore(add(o, 0x60), shr(96, calldataload(add(q, 20))))
                    q := add(q, 40)
                }
                let v, w1, w2, w3, w4
                v, q, w1 := uint_(q)
                mstore(add(o, 0x80), v) // makerAmount
                v, q, w2 := uint_(q)
                mstore(add(o, 0xa0), v) // takerAmount
                if hasFee {
                    mstore(add(o, 0xc0), shr(96, calldataload(q))) // feeRecipient
                    v, q, w3 := uint_(add(q, 20))
                    mstore(add(o, 0xe0), v) // feeAmount
                }
                mstore(add(o, 0x100), shr(192, calldataload(q))) // expiry
                v, next, w4 := uint_(add(q, 8))
                mstore(add(o, 0x120), v) // salt
                wrong := or(or(w1, w2), or(w3, w4))
            }
            maxLeftFill := not(0)
            if and(flags, 16) {
                let w
                maxLeftFill, p, w := uint_(p)
                bad := or(bad, w)
            }
            let w
            p, w := order_(left, p, and(flags, 1), and(flags, 2), 1)
            bad := or(bad, w)
            mstore(add(right, 0x40), mload(add(left, 0x60))) // right's makerToken: left's takerToken
            mstore(add(right, 0x60), mload(add(left, 0x40))) // right's takerToken: left's makerToken
            p, w := order_(right, p, and(flags, 4), and(flags, 8), 0)
            bad := or(bad, w)
            leftSignature.length := shr(240, calldataload(p))
            leftSignature.offset := add(p, 2)
            p := add(leftSignature.offset, leftSignature.length)
            rightSignature.length := shr(240, calldataload(p))
            rightSignature.offset := add(p, 2)
            p := add(rightSignature.offset, rightSignature.length)
        }
        if (bad || p != msg.data.length) revert IExchangeEventsAndErrors.PackedMatchMalformed(msg.data.length, p);
    }
}
