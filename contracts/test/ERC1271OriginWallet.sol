// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A hostile EIP-1271 wallet for tests: invalid when the transaction's origin is
///         `banned` (a node's operator: its settlements and pre-flights), valid otherwise (a
///         read, or a call of it alone as the evidence path makes) (review38).
contract ERC1271OriginWallet is IERC1271 {
    address public immutable owner;
    address public immutable banned;

    error NotOwner(address caller);

    constructor(address owner_, address banned_) {
        owner = owner_;
        banned = banned_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (tx.origin == banned) return bytes4(0);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == owner ? IERC1271.isValidSignature.selector : bytes4(0);
    }

    /// @notice Lets the owner approve a spender (the Exchange) for the wallet's tokens.
    function approve(address token, address spender, uint256 amount) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        IERC20(token).approve(spender, amount);
    }
}
