// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A mintable ERC-20 that refuses to credit some receivers: those refused one by one,
///         or with `allowlist` on (a permissioned token) every one not allowed. A transfer *to*
///         a refused address reverts; one *from* it moves as usual, and its balance and
///         allowances read as usual. Minting credits anyone.
/// @dev Anyone may mint and refuse: this token exists only on test chains (blame44).
contract ReceiverGateToken is ERC20 {
    mapping(address account => bool) public refused;
    mapping(address account => bool) public allowed;
    bool public allowlist;

    error ReceiverRefused(address to);

    constructor() ERC20("Receiver Gate Token", "RGT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setRefused(address account, bool value) external {
        refused[account] = value;
    }

    function setAllowed(address account, bool value) external {
        allowed[account] = value;
    }

    function setAllowlist(bool value) external {
        allowlist = value;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && (refused[to] || (allowlist && !allowed[to]))) revert ReceiverRefused(to);
        super._update(from, to, value);
    }
}
