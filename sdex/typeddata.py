"""The EIP-712 types SDEX signs, as the Exchange contract declares them: the ``Order``
(its fields in hashing order, ``ORDER_FIELDS``) and the soft cancel's ``CancelOrder``, their
type strings and typehashes, the domain's type, name and version, and the ``types`` object
a wallet's ``eth_signTypedData_v4`` is given for each. Constants only; ``sdex.order`` hashes
and signs with them.
"""

from __future__ import annotations

from sdex.keccak import keccak

ORDER_TYPE = (
    "Order(address maker,address taker,address makerToken,address takerToken,"
    "uint256 makerAmount,uint256 takerAmount,address feeRecipient,uint256 feeAmount,"
    "uint64 expiry,uint256 salt)"
)
ORDER_TYPEHASH = keccak(ORDER_TYPE.encode())
DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
CANCEL_TYPE = "CancelOrder(bytes32 orderHash)"
CANCEL_TYPEHASH = keccak(CANCEL_TYPE.encode())
DOMAIN_NAME = "SDEX"
DOMAIN_VERSION = "1"

# (json name, python attribute, kind) in EIP-712 field order
ORDER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("maker", "maker", "address"),
    ("taker", "taker", "address"),
    ("makerToken", "maker_token", "address"),
    ("takerToken", "taker_token", "address"),
    ("makerAmount", "maker_amount", "uint256"),
    ("takerAmount", "taker_amount", "uint256"),
    ("feeRecipient", "fee_recipient", "address"),
    ("feeAmount", "fee_amount", "uint256"),
    ("expiry", "expiry", "uint64"),
    ("salt", "salt", "uint256"),
)
EIP712_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Order": [{"name": j, "type": k} for j, _, k in ORDER_FIELDS],
}
CANCEL_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": EIP712_TYPES["EIP712Domain"],
    "CancelOrder": [{"name": "orderHash", "type": "bytes32"}],
}
