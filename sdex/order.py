"""The signed limit order: value type, strict JSON, EIP-712 hash, signing and recovery.

The EIP-712 digest is computed directly for our one fixed type (about 10x faster than
``eth_account.messages.encode_typed_data``); ``tests/test_order.py`` proves it equal to
eth-account's and to the contract's. The secp256k1 part (signing a digest, the contract's
rules for a signature, recovery, addresses) is ``sdex.signature``'s, re-exported here; the
EIP-712 types themselves (type strings, typehashes, a wallet's ``types``), ``sdex.typeddata``'s.
Addresses are kept as lower-case ``0x`` hex: one canonical form, cheap to compare.
"""

from __future__ import annotations

import copyreg
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any

from sdex.errors import FieldCode, FieldError, OrderParseError
from sdex.keccak import keccak
from sdex.orderparse import ADDRESS_RE, checksum_ok
from sdex.orderparse import UINT64_MAX as UINT64_MAX
from sdex.orderparse import UINT256_MAX as UINT256_MAX
from sdex.orderparse import parse_address as parse_address
from sdex.orderparse import parse_hex_bytes as parse_hex_bytes
from sdex.orderparse import parse_uint as parse_uint
from sdex.orderparse import to_checksum as to_checksum
from sdex.signature import SECP256K1_HALF_N as SECP256K1_HALF_N
from sdex.signature import SECP256K1_N as SECP256K1_N
from sdex.signature import address_of as address_of
from sdex.signature import point_address as point_address
from sdex.signature import recover_signer as recover_signer
from sdex.signature import sign_hash as sign_hash
from sdex.signature import signature_parts as signature_parts
from sdex.typeddata import (
    CANCEL_TYPEHASH,
    CANCEL_TYPES,
    DOMAIN_NAME,
    DOMAIN_TYPEHASH,
    DOMAIN_VERSION,
    EIP712_TYPES,
    ORDER_FIELDS,
    ORDER_TYPEHASH,
)

ZERO_ADDRESS = "0x" + "00" * 20


_NATIVE = not __file__.endswith(".py")
"""Whether this module runs compiled. A frozen dataclass's generated ``__init__`` is Python
even then, each field set through ``object.__setattr__`` (~1.5 us an ``Order``, one per order
parsed); ``Order`` and ``SignedOrder`` write theirs out: compiled, plain stores into the
native object (~0.1 us). Outside ``__init__`` they stay frozen (``FrozenInstanceError``)."""


def _frozen_init(obj: Order | SignedOrder, *values: object) -> None:
    """From the source: set ``obj``'s fields as the generated ``__init__`` does."""
    for f, value in zip(fields(obj), values, strict=True):  # (every field is an init field)
        object.__setattr__(obj, f.name, value)


@dataclass(frozen=True, slots=True, init=False)
class Order:
    """An order exactly as the maker signs it (PRODUCT.md section 1). Amounts are ints."""

    maker: str
    taker: str
    maker_token: str
    taker_token: str
    maker_amount: int
    taker_amount: int
    fee_recipient: str
    fee_amount: int
    expiry: int
    salt: int

    def __init__(
        self,
        maker: str,
        taker: str,
        maker_token: str,
        taker_token: str,
        maker_amount: int,
        taker_amount: int,
        fee_recipient: str,
        fee_amount: int,
        expiry: int,
        salt: int,
    ) -> None:
        if not _NATIVE:  # (see ``_NATIVE``)
            _frozen_init(self, maker, taker, maker_token, taker_token, maker_amount,
                         taker_amount, fee_recipient, fee_amount, expiry, salt)  # fmt: skip
            return
        self.maker = maker  # type: ignore[misc]
        self.taker = taker  # type: ignore[misc]
        self.maker_token = maker_token  # type: ignore[misc]
        self.taker_token = taker_token  # type: ignore[misc]
        self.maker_amount = maker_amount  # type: ignore[misc]
        self.taker_amount = taker_amount  # type: ignore[misc]
        self.fee_recipient = fee_recipient  # type: ignore[misc]
        self.fee_amount = fee_amount  # type: ignore[misc]
        self.expiry = expiry  # type: ignore[misc]
        self.salt = salt  # type: ignore[misc]

    @property
    def limit_price(self) -> Fraction:
        """takerToken per makerToken the maker asks for at least: exact."""
        return Fraction(self.taker_amount, self.maker_amount)

    def struct_hash(self) -> bytes:
        """The EIP-712 ``hashStruct(order)``, computed directly for this fixed type."""
        return keccak(ORDER_TYPEHASH + self.abi_words())

    def abi_words(self) -> bytes:
        """The ten 32-byte words of the order's fields in ``ORDER_FIELDS`` order: its ABI tuple
        (a static struct) and its EIP-712 ``encodeData`` (the calldata of a batch holds
        each order's: ``sdex.chain.exchange``, anvil50)."""
        return b"".join(
            (
                _addr_word(self.maker),
                _addr_word(self.taker),
                _addr_word(self.maker_token),
                _addr_word(self.taker_token),
                self.maker_amount.to_bytes(32, "big"),
                self.taker_amount.to_bytes(32, "big"),
                _addr_word(self.fee_recipient),
                self.fee_amount.to_bytes(32, "big"),
                self.expiry.to_bytes(32, "big"),
                self.salt.to_bytes(32, "big"),
            )
        )

    def to_json(self) -> dict[str, str]:
        """The pinned JSON form: addresses as 0x-hex, every uint as a decimal string (in
        ``ORDER_FIELDS`` order, spelled out: built for every accepted order)."""
        return {
            "maker": self.maker,
            "taker": self.taker,
            "makerToken": self.maker_token,
            "takerToken": self.taker_token,
            "makerAmount": str(self.maker_amount),
            "takerAmount": str(self.taker_amount),
            "feeRecipient": self.fee_recipient,
            "feeAmount": str(self.fee_amount),
            "expiry": str(self.expiry),
            "salt": str(self.salt),
        }

    def to_message(self) -> dict[str, Any]:
        """The EIP-712 ``message`` object (ints as ints) for ``eth_signTypedData_v4``."""
        return {j: getattr(self, a) for j, a, _ in ORDER_FIELDS}

    def to_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple of the Solidity ``Order`` struct, field order preserved."""
        return tuple(getattr(self, a) for _, a, _ in ORDER_FIELDS)

    @classmethod
    def from_json(cls, obj: object) -> Order:
        """Parse strictly; collects every field problem into one ``OrderParseError``."""
        if type(obj) is dict and (fast := _fast_order(obj)) is not None:
            return fast  # a well-formed order (the usual case): one pass, no error bookkeeping
        if not isinstance(obj, Mapping):
            raise OrderParseError(
                [FieldError("order", FieldCode.INCORRECT_FORMAT, "order must be a JSON object")]
            )
        errors: list[FieldError] = []
        values: dict[str, object] = {}
        for j, a, k in ORDER_FIELDS:
            raw = obj.get(j)
            if raw is None:
                errors.append(FieldError(j, FieldCode.REQUIRED_FIELD, f"{j} is required"))
                continue
            try:
                values[a] = parse_address(raw, j) if k == "address" else parse_uint(raw, j, k)
            except OrderParseError as e:
                errors.extend(e.errors)
        if errors:
            raise OrderParseError(errors)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Domain:
    """The EIP-712 domain of one Exchange deployment; hashes orders for it."""

    chain_id: int
    verifying_contract: str
    separator: bytes = field(init=False, repr=False, compare=False)
    prefix: bytes = field(init=False, repr=False, compare=False)
    """``"\\x19\\x01" ‖ separator``: what every digest in this domain starts with."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "separator",
            keccak(
                DOMAIN_TYPEHASH
                + keccak(DOMAIN_NAME.encode())
                + keccak(DOMAIN_VERSION.encode())
                + self.chain_id.to_bytes(32, "big")
                + _addr_word(self.verifying_contract)
            ),
        )
        object.__setattr__(self, "prefix", b"\x19\x01" + self.separator)

    def order_hash(self, order: Order) -> bytes:
        """The EIP-712 digest of ``order``: its identity and what the maker signs."""
        return keccak(self.prefix + order.struct_hash())

    def cancel_digest(self, order_hash: bytes) -> bytes:
        """What a maker signs to soft-cancel an order at a node: EIP-712
        ``CancelOrder(bytes32 orderHash)`` in this domain (off-chain only; see ``cancelOrder``
        for the on-chain, permanent cancel)."""
        return keccak(self.prefix + keccak(CANCEL_TYPEHASH + order_hash))

    def cancel_typed_data(self, order_hash: bytes) -> dict[str, Any]:
        return {
            "types": CANCEL_TYPES,
            "primaryType": "CancelOrder",
            "domain": self.to_json(),
            "message": {"orderHash": "0x" + order_hash.hex()},
        }

    def to_json(self) -> dict[str, object]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }

    def typed_data(self, order: Order) -> dict[str, Any]:
        """The full ``eth_signTypedData_v4`` payload a wallet signs for ``order``."""
        return {
            "types": EIP712_TYPES,
            "primaryType": "Order",
            "domain": self.to_json(),
            "message": order.to_message(),
        }


@dataclass(frozen=True, slots=True, init=False)
class SignedOrder:
    """An order with its signature and its EIP-712 hash (its identity)."""

    order: Order
    signature: bytes
    hash: bytes

    def __init__(self, order: Order, signature: bytes, hash: bytes) -> None:
        if not _NATIVE:  # (as ``Order.__init__``)
            _frozen_init(self, order, signature, hash)
            return
        self.order = order  # type: ignore[misc]
        self.signature = signature  # type: ignore[misc]
        self.hash = hash  # type: ignore[misc]

    @property
    def hash_hex(self) -> str:
        return "0x" + self.hash.hex()

    def to_json(self) -> dict[str, str]:
        out = self.order.to_json()
        out["signature"] = "0x" + self.signature.hex()
        return out

    @classmethod
    def from_json(cls, obj: object, domain: Domain) -> SignedOrder:
        """Parse an order JSON with its ``signature`` field; hash it for ``domain``."""
        if type(obj) is dict:  # a well-formed order (the usual case): no error bookkeeping
            fast = _fast_order(obj)
            sig = _fast_signature(obj.get("signature"))
            if fast is not None and sig is not None:
                return cls(order=fast, signature=sig, hash=domain.order_hash(fast))
        errors: list[FieldError] = []
        order: Order | None = None
        try:
            order = Order.from_json(obj)
        except OrderParseError as e:
            errors.extend(e.errors)
        signature = b""
        raw = obj.get("signature") if isinstance(obj, Mapping) else None
        if raw is None:
            if isinstance(obj, Mapping):
                errors.append(
                    FieldError("signature", FieldCode.REQUIRED_FIELD, "signature is required")
                )
        else:
            try:
                signature = parse_hex_bytes(raw, "signature")
            except OrderParseError as e:
                errors.extend(e.errors)
        if errors or order is None:
            raise OrderParseError(errors)
        return cls(order=order, signature=signature, hash=domain.order_hash(order))


MAX_MAKER_AMOUNT = 2**255 - 1


def validity_errors(order: Order) -> list[FieldError]:
    """The contract's validity rules (``InvalidOrderAmounts``, ``SameTokens``), as field errors.

    An order that breaks one can never be filled: the node rejects it at intake.
    """
    errors: list[FieldError] = []
    if order.maker_amount == 0:
        errors.append(
            FieldError("makerAmount", FieldCode.VALUE_OUT_OF_RANGE, "makerAmount must be > 0")
        )
    elif order.maker_amount > MAX_MAKER_AMOUNT:
        errors.append(
            FieldError(
                "makerAmount", FieldCode.VALUE_OUT_OF_RANGE, "makerAmount must be below 2**255"
            )
        )
    if order.taker_amount == 0:
        errors.append(
            FieldError("takerAmount", FieldCode.VALUE_OUT_OF_RANGE, "takerAmount must be > 0")
        )
    if order.fee_amount > order.taker_amount:
        errors.append(
            FieldError(
                "feeAmount", FieldCode.VALUE_OUT_OF_RANGE, "feeAmount must not exceed takerAmount"
            )
        )
    if order.fee_amount and order.fee_recipient == ZERO_ADDRESS:
        errors.append(
            FieldError(
                "feeRecipient", FieldCode.INVALID_ADDRESS, "a fee needs a non-zero feeRecipient"
            )
        )
    if order.maker_token == order.taker_token:
        errors.append(
            FieldError(
                "takerToken", FieldCode.INVALID_ADDRESS, "makerToken and takerToken must differ"
            )
        )
    if order.maker == ZERO_ADDRESS:
        errors.append(
            FieldError("maker", FieldCode.INVALID_ADDRESS, "maker must not be the zero address")
        )
    return errors


def _fast_order(obj: dict[str, Any]) -> Order | None:
    """The order if every field is a well-formed string in range, else None (then the full
    parse says what is wrong). Same rules as ``parse_address``/``parse_uint``; spelled out
    field by field (compiled: native calls, no list, no star-call)."""
    maker = _fast_address(obj.get("maker"))
    taker = _fast_address(obj.get("taker"))
    maker_token = _fast_address(obj.get("makerToken"))
    taker_token = _fast_address(obj.get("takerToken"))
    fee_recipient = _fast_address(obj.get("feeRecipient"))
    maker_amount = _fast_uint(obj.get("makerAmount"), UINT256_MAX)
    taker_amount = _fast_uint(obj.get("takerAmount"), UINT256_MAX)
    fee_amount = _fast_uint(obj.get("feeAmount"), UINT256_MAX)
    expiry = _fast_uint(obj.get("expiry"), UINT64_MAX)
    salt = _fast_uint(obj.get("salt"), UINT256_MAX)
    if not (maker and taker and maker_token and taker_token and fee_recipient) or (
        min(maker_amount, taker_amount, fee_amount, expiry, salt) < 0
    ):
        return None
    return Order(maker, taker, maker_token, taker_token, maker_amount, taker_amount,
                 fee_recipient, fee_amount, expiry, salt)  # fmt: skip


def _fast_address(raw: object) -> str:
    """A well-formed address as its lower-case form, or "" (``parse_address``'s rules)."""
    if type(raw) is not str:
        return ""
    low = _WELL_FORMED.get(raw)
    if low is None:
        if not ADDRESS_RE.match(raw):
            return ""
        low = raw.lower()
        if raw != low and not checksum_ok(raw):
            return ""
        if len(_WELL_FORMED) >= 4096:
            _WELL_FORMED.clear()
        _WELL_FORMED[raw] = low
    return low


def _fast_uint(raw: object, top: int) -> int:
    """A canonical decimal string's value if it is at most ``top``, else -1 (the rules of
    ``DECIMAL_RE`` without the regex: ASCII digits only, no leading zero, at most 78)."""
    if type(raw) is not str:
        return -1
    n = len(raw)
    if n == 0 or n > 78 or not raw.isascii() or not raw.isdigit():
        return -1
    if n > 1 and raw[0] == "0":
        return -1
    value = int(raw)
    return value if value <= top else -1


def _fast_signature(raw: object) -> bytes | None:
    """``parse_hex_bytes``'s rules without an exception on the usual path: the bytes, or
    None (then the full parse says what is wrong)."""
    if type(raw) is not str or raw[:2] != "0x":
        return None
    try:
        value = bytes.fromhex(raw[2:])
    except ValueError:
        return None
    return value if 2 * len(value) == len(raw) - 2 else None


_WELL_FORMED: dict[str, str] = {}
"""Addresses (as sent) that passed ``_fast_address``'s checks, and their lower-case form: the
few makers and tokens of a market come again and again; bounded, emptied when full."""


def sign_order(order: Order, domain: Domain, private_key: bytes) -> SignedOrder:
    """Sign ``order`` as a wallet's ``eth_signTypedData_v4`` would."""
    digest = domain.order_hash(order)
    return SignedOrder(order=order, signature=sign_hash(digest, private_key), hash=digest)


def random_salt() -> int:
    """A random 256-bit salt, like wallets use for one-off orders."""
    return int.from_bytes(os.urandom(32), "big")


BITMAP_SALT_TAG = 0x5344455842495453  # "SDEXBITS"
"""A salt whose top 64 bits are this tag opts the order in to the maker's order bitmap on the
Exchange (docs/ARCHITECTURE.md "Bitmap orders"): filled whole in one go, it costs a bit in a
shared word instead of a fresh storage slot. Its low 192 bits are a nonce the maker must not
reuse; consecutive nonces share words (128 a word), which is where the saving comes from."""
BITMAP_NONCE_LIMIT = 1 << 192


def bitmap_salt(nonce: int) -> int:
    """The salt of a bitmap order with this maker ``nonce`` (0 <= nonce < 2**192)."""
    if not 0 <= nonce < BITMAP_NONCE_LIMIT:
        raise ValueError(f"bitmap nonce {nonce} is outside 0..2**192-1")
    return BITMAP_SALT_TAG << 192 | nonce


def bitmap_nonce(salt: int) -> int | None:
    """The maker nonce of a bitmap order's salt, or None for an ordinary salt."""
    return salt % BITMAP_NONCE_LIMIT if salt >> 192 == BITMAP_SALT_TAG else None


def _addr_word(address: str) -> bytes:
    """The 32-byte ABI word of a lower-case 0x address (recent ones kept: bounded)."""
    word = _WORDS.get(address)
    if word is None:
        if len(_WORDS) >= 4096:
            _WORDS.clear()
        word = _WORDS[address] = bytes(12) + bytes.fromhex(address[2:])
    return word


_WORDS: dict[str, bytes] = {}


def _reduce(obj: Any) -> tuple[Callable[..., object], tuple[object, ...]]:
    """How copy and pickle rebuild these: by their constructor (compiled, they are native
    classes that refuse the attribute assignment copy and pickle would otherwise use)."""
    return type(obj), tuple(getattr(obj, f.name) for f in fields(obj) if f.init)


for _cls in (Order, Domain, SignedOrder):
    copyreg.pickle(_cls, _reduce)
