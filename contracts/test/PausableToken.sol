// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A mintable ERC-20 with a global pause, as USDC and USDT have (`pause()` by the
///         token's admin): while paused every transfer reverts, whoever sends it; balances
///         and allowances read as usual. Minting credits anyone, paused or not.
/// @dev Anyone may mint and pause: this token exists only on test chains (review45).
contract PausableToken is ERC20 {
    bool public paused;

    error Paused();

    constructor() ERC20("Pausable Token", "PAU") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function pause() external {
        paused = true;
    }

    function unpause() external {
        paused = false;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (paused && from != address(0)) revert Paused();
        super._update(from, to, value);
    }
}
