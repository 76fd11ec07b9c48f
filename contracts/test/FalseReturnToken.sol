// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice An ERC-20 whose transferFrom returns false without moving anything, as some old
///         tokens do on failure. SafeERC20 turns the false into a revert
///         (SafeERC20FailedOperation), so a fill with it must revert and move nothing.
contract FalseReturnToken is ERC20 {
    constructor() ERC20("False Return Token", "FRT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transferFrom(address, address, uint256) public pure override returns (bool) {
        return false;
    }
}
