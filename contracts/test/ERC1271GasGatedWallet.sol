// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A hostile contract wallet (tests only): it accepts its owner's signature of the
///         hash only when the call has at most `gate` gas left. The Exchange's view gives a
///         wallet 100,000 gas (a node's reads see a valid signature with a gate there); a
///         settlement gives it more and sees an invalid one; with `burn`, it first burns all
///         the gas it was given. Gate 0: never valid.
contract ERC1271GasGatedWallet is IERC1271 {
    address public immutable owner;
    uint256 public immutable gate;
    bool public immutable burn;

    error NotOwner(address caller);

    constructor(address owner_, uint256 gate_, bool burn_) {
        owner = owner_;
        gate = gate_;
        burn = burn_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (gasleft() > gate) {
            while (burn && gasleft() > 1_000) {} // the caller's whole budget (63/64 of its gas)
            return bytes4(0);
        }
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == owner ? IERC1271.isValidSignature.selector : bytes4(0);
    }

    /// @notice Lets the owner approve a spender (the Exchange) for the wallet's tokens.
    function approve(address token, address spender, uint256 amount) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        IERC20(token).approve(spender, amount);
    }
}
