"""Strict parsing of the text fields of orders and API inputs: addresses (EIP-55 checksums
checked), decimal uints within their Solidity type, 0x-hex bytes. Used by ``sdex.order``,
which re-exports these names."""

from __future__ import annotations

import re

from sdex.errors import FieldCode, FieldError, OrderParseError
from sdex.keccak import keccak

UINT256_MAX = 2**256 - 1
UINT64_MAX = 2**64 - 1
ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}\Z")
DECIMAL_RE = re.compile(r"(0|[1-9][0-9]{0,77})\Z")
UINT_MAX = {"uint256": UINT256_MAX, "uint64": UINT64_MAX}

CHECKSUMMED: dict[str, bool] = {}
"""Mixed-case addresses already checked against EIP-55 (a wallet sends the same few again
and again); bounded, emptied when full."""


def checksum_ok(raw: str) -> bool:
    """A 0x-hex address in one case, or mixed case with a valid EIP-55 checksum."""
    body = raw[2:]
    if body == body.lower() or body == body.upper():
        return True
    ok = CHECKSUMMED.get(raw)
    if ok is None:
        if len(CHECKSUMMED) >= 4096:
            CHECKSUMMED.clear()
        ok = CHECKSUMMED[raw] = to_checksum(raw) == raw
    return ok


def parse_address(raw: object, name: str) -> str:
    """A 20-byte 0x-hex address; mixed case must be a valid EIP-55 checksum."""
    if not isinstance(raw, str) or not ADDRESS_RE.match(raw):
        raise OrderParseError(
            [
                FieldError(
                    name, FieldCode.INVALID_ADDRESS, f"{name} must be a 0x-prefixed 20-byte hex"
                )
            ]
        )
    body = raw[2:]
    if not checksum_ok(raw):
        raise OrderParseError(
            [FieldError(name, FieldCode.INVALID_ADDRESS, f"{name} has a bad EIP-55 checksum")]
        )
    return "0x" + body.lower()


def parse_uint(raw: object, name: str, kind: str = "uint256") -> int:
    """A decimal string within ``kind``'s range. JSON numbers are refused, ints included
    (PRODUCT.md: "every uint as a decimal string"): a JavaScript client's ``Number`` loses
    digits past 2**53 before it is sent, so an amount that came as a number may not be the
    one the wallet signed, and the order's hash would then not match its signature."""
    if not isinstance(raw, str):
        raise OrderParseError(
            [
                FieldError(
                    name,
                    FieldCode.INCORRECT_FORMAT,
                    f'{name} must be a decimal string, such as "{_example(raw)}"'
                    f" (a JSON {_json_kind(raw)} is not taken)",
                )
            ]
        )
    if not DECIMAL_RE.match(raw):
        code = FieldCode.VALUE_OUT_OF_RANGE if raw.startswith("-") else FieldCode.INCORRECT_FORMAT
        if raw.isdigit() and len(raw) > 78:
            code = FieldCode.VALUE_OUT_OF_RANGE
        raise OrderParseError(
            [FieldError(name, code, f"{name} must be a non-negative decimal integer string")]
        )
    value = int(raw)
    if value > UINT_MAX[kind]:
        raise OrderParseError(
            [FieldError(name, FieldCode.VALUE_OUT_OF_RANGE, f"{name} is outside {kind}")]
        )
    return value


def _json_kind(raw: object) -> str:
    """The JSON type of a decoded value, as a client would name it."""
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "boolean"
    if isinstance(raw, (int, float)):
        return "number"
    return "array" if isinstance(raw, list) else "object"


def _example(raw: object) -> str:
    """``raw`` as the string to send instead, if it is a plain non-negative int; else "1"."""
    if type(raw) is int and 0 <= raw < 10**78:
        return str(raw)
    return "1"


def parse_hex_bytes(raw: object, name: str) -> bytes:
    """``0x`` and pairs of hex digits (either case), nothing else, as bytes."""
    if isinstance(raw, str) and raw[:2] == "0x":
        try:
            value = bytes.fromhex(raw[2:])
        except ValueError:
            pass
        else:  # fromhex skips whitespace between bytes: the length shows any was there
            if 2 * len(value) == len(raw) - 2:
                return value
    raise OrderParseError(
        [FieldError(name, FieldCode.INCORRECT_FORMAT, f"{name} must be 0x-prefixed hex bytes")]
    )


def to_checksum(address: str) -> str:
    """EIP-55 checksum form of a 0x address."""
    body = address[2:].lower()
    digest = keccak(body.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(body, digest[:40], strict=True)
    )
