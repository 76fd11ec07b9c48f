// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A mintable ERC-20 whose locked holders may move their funds only to themselves
///         (a lock-up on the sender, as some vesting and security tokens have): a transfer
///         from a locked address to any other reverts, whoever receives it; balances and
///         allowances read as usual. Minting credits anyone. With ``refuseZero`` set, a
///         transfer of nothing reverts too, whoever sends it (as some tokens' do: BNB's on
///         Ethereum, ``require(value > 0)``; review48).
/// @dev Anyone may mint and lock: this token exists only on test chains (review45).
contract SenderLockToken is ERC20 {
    mapping(address account => bool) public locked;
    bool public refuseZero;

    error Locked(address from);
    error ZeroAmount();

    constructor() ERC20("Sender Lock Token", "SLT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setLocked(address account, bool value) external {
        locked[account] = value;
    }

    function setRefuseZero(bool value) external {
        refuseZero = value;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (refuseZero && value == 0) revert ZeroAmount();
        if (locked[from] && to != from) revert Locked(from);
        super._update(from, to, value);
    }
}
