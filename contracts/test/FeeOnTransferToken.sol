// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice An ERC-20 that burns 1% (rounded down) of every transfer, so the receiver gets
///         less than the amount sent. The Exchange settles the amounts it computes; the
///         receiver bears the token's fee (tests document that behaviour).
contract FeeOnTransferToken is ERC20 {
    uint256 public constant FEE_BPS = 100; // 1%

    constructor() ERC20("Fee On Transfer Token", "FOT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @dev Every transfer (not mint or burn) burns FEE_BPS of the amount from the sender.
    function _update(address from, address to, uint256 amount) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, amount);
            return;
        }
        uint256 burned = amount * FEE_BPS / 10_000;
        super._update(from, address(0), burned);
        super._update(from, to, amount - burned);
    }
}
