// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A valid but gas-heavy contract wallet (tests only): before checking its owner's
///         signature it burns `heavy` gas, answering valid within the Exchange view's
///         100,000 gas (a node's reads accept it) while each settlement pays for the burn.
contract ERC1271HeavyWallet is IERC1271 {
    address public immutable owner;
    uint256 public immutable heavy;

    error NotOwner(address caller);

    constructor(address owner_, uint256 heavy_) {
        owner = owner_;
        heavy = heavy_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        uint256 stop = gasleft() - heavy; // (reverts, so reads invalid, when given less)
        while (gasleft() > stop) {}
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == owner ? IERC1271.isValidSignature.selector : bytes4(0);
    }

    /// @notice Lets the owner approve a spender (the Exchange) for the wallet's tokens.
    function approve(address token, address spender, uint256 amount) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        IERC20(token).approve(spender, amount);
    }
}
