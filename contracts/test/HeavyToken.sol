// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A mintable ERC-20 whose every transfer burns about `work` x 100 gas more (a costly
///         token: hooks, checkpoints, rebasing bookkeeping), so that a settlement of it can
///         cost more than the node's fallback-safe bound per match. Minting costs nothing more.
/// @dev Anyone may mint and set the work: this token exists only on test chains (review45).
contract HeavyToken is ERC20 {
    uint256 public work;
    uint256 public sink;

    constructor() ERC20("Heavy Token", "HVY") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setWork(uint256 value) external {
        work = value;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) {
            uint256 x = sink;
            for (uint256 i = 0; i < work; ++i) {
                x = uint256(keccak256(abi.encode(x, i)));
            }
            if (x == 0) sink = x; // (never: keeps the loop)
        }
        super._update(from, to, value);
    }
}
