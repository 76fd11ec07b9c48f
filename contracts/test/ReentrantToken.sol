// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice An ERC-20 that, inside transferFrom, calls `target` with `callData` (e.g. the
///         Exchange's fillOrder) before moving funds. If that call fails, transferFrom reverts
///         with the call's revert data, so a test sees exactly which guard fired
///         (ReentrancyGuardReentrantCall, OnlySelf, ...). If it succeeds, the call is
///         recorded in `reentered`/`lastResult` and the transfer goes on.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public callData;
    bool public reentered;
    bytes public lastResult;

    event Reentered(address indexed target, bool success, bytes result);

    constructor() ERC20("Reentrant Token", "REE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the callback; an empty `callData_` or zero `target_` disarms it.
    function setReentry(address target_, bytes calldata callData_) external {
        target = target_;
        callData = callData_;
    }

    function transferFrom(address from, address to, uint256 amount) public override returns (bool) {
        if (target != address(0) && callData.length != 0) {
            (bool success, bytes memory result) = target.call(callData);
            emit Reentered(target, success, result);
            if (!success) {
                // Propagate the callee's revert data unchanged.
                assembly ("memory-safe") {
                    revert(add(result, 0x20), mload(result))
                }
            }
            reentered = true;
            lastResult = result;
        }
        return super.transferFrom(from, to, amount);
    }
}
