// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Deploys a contract at an address known before (CREATE2: this deployer, a salt,
///         the init code's hash): a wallet whose orders are signed before it exists.
contract Create2Deployer {
    event Deployed(address at);

    error Failed();

    function deploy(bytes32 salt, bytes calldata initCode) external returns (address at) {
        bytes memory code = initCode;
        assembly {
            at := create2(0, add(code, 0x20), mload(code), salt)
        }
        if (at == address(0)) revert Failed();
        emit Deployed(at);
    }
}
