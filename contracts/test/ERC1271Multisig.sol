// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice An honest k-of-n multisig wallet (tests only), checked as a Safe checks owners'
///         ECDSA signatures: `threshold` 65-byte signatures of the hash, by owners in rising
///         address order, each owner looked up in storage (a cold SLOAD per signer in a call).
contract ERC1271Multisig is IERC1271 {
    mapping(address => bool) public isOwner;
    uint256 public immutable threshold;

    constructor(address[] memory owners, uint256 threshold_) {
        for (uint256 i = 0; i < owners.length; i++) isOwner[owners[i]] = true;
        threshold = threshold_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signatures) external view returns (bytes4) {
        if (signatures.length != threshold * 65) return bytes4(0);
        address last = address(0);
        for (uint256 i = 0; i < threshold; i++) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signatures[i * 65:(i + 1) * 65]);
            if (err != ECDSA.RecoverError.NoError || signer <= last || !isOwner[signer]) return bytes4(0);
            last = signer;
        }
        return IERC1271.isValidSignature.selector;
    }
}
