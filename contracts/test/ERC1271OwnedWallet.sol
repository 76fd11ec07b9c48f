// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A contract wallet whose signer lives in storage and can be rotated (`setOwner`):
///         its EIP-1271 verdicts change while its code does not.
contract ERC1271OwnedWallet is IERC1271 {
    address public owner;

    error NotOwner(address caller);

    constructor(address owner_) {
        owner = owner_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == owner ? IERC1271.isValidSignature.selector : bytes4(0);
    }

    /// @notice The owner hands the wallet to another signer.
    function setOwner(address next) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        owner = next;
    }

    /// @notice Lets the owner approve a spender (the Exchange) for the wallet's tokens.
    function approve(address token, address spender, uint256 amount) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        IERC20(token).approve(spender, amount);
    }
}
