"""The fast path of ``SignedOrder.from_json`` (well-formed orders, no error bookkeeping)
accepts exactly what the strict per-field parsers accept, with the same values: every
raw field value below goes through both."""

from __future__ import annotations

from typing import Any

import pytest

from sdex.errors import OrderParseError
from sdex.order import (
    UINT64_MAX,
    UINT256_MAX,
    Domain,
    Order,
    SignedOrder,
    _fast_address,
    _fast_order,
    _fast_signature,
    _fast_uint,
    address_of,
    parse_address,
    parse_hex_bytes,
    parse_uint,
    sign_order,
    to_checksum,
)

KEY = bytes(31) + b"\x07"
DOMAIN = Domain(31337, "0x" + "ab" * 20)

UINTS: list[object] = [
    "0", "1", "00", "01", "-1", "+1", " 1", "1 ", "1\n", "", "1.0", "1e3", "0x10",
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() says yes, the rules say no
    "\uff11",  # a full-width 1
    "\u00b2",  # superscript two
    "9" * 78, "9" * 79, "1" + "0" * 77, str(UINT64_MAX), str(UINT64_MAX + 1),
    str(UINT256_MAX), str(UINT256_MAX + 1), 5, True, None, 1.0, [], {},
]  # fmt: skip

ADDRESS = address_of(KEY)
ADDRESSES: list[object] = [
    ADDRESS, ADDRESS.upper().replace("0X", "0x"), to_checksum(ADDRESS),
    to_checksum(ADDRESS).swapcase().replace("0X", "0x"),  # mixed case, bad checksum
    ADDRESS[:-1], ADDRESS + "0", ADDRESS.replace("0x", "0X"), ADDRESS[2:], ADDRESS + "\n",
    "0x" + "g" * 40, "", None, 5,
]  # fmt: skip

SIGNATURES: list[object] = ["0x", "0x00", "0x0", "0xzz", "0x00 11", "00" * 65, "0X00", 5, None]


def _strict(parse: Any, raw: object, *args: object) -> object:
    try:
        return parse(raw, *args)
    except OrderParseError:
        return None


@pytest.mark.parametrize("raw", UINTS)
@pytest.mark.parametrize(("kind", "top"), [("uint256", UINT256_MAX), ("uint64", UINT64_MAX)])
def test_fast_uint_matches_the_strict_parse_on_strings(raw: object, kind: str, top: int) -> None:
    fast = _fast_uint(raw, top)
    strict = _strict(parse_uint, raw, "x", kind)
    if isinstance(raw, str):
        assert fast == (-1 if strict is None else strict)
    else:  # a JSON number is the slow path's to judge: never taken by the fast one
        assert fast == -1


@pytest.mark.parametrize("raw", ADDRESSES)
def test_fast_address_matches_the_strict_parse(raw: object) -> None:
    assert _fast_address(raw) == (_strict(parse_address, raw, "x") or "")


@pytest.mark.parametrize("raw", SIGNATURES)
def test_fast_signature_matches_the_strict_parse(raw: object) -> None:
    assert _fast_signature(raw) == _strict(parse_hex_bytes, raw, "x")


def _order_json() -> dict[str, str]:
    o = Order(ADDRESS, "0x" + "00" * 20, "0x" + "11" * 20, "0x" + "22" * 20, 10**20,
              3 * 10**21, "0x" + "00" * 20, 0, 2**40, 12345)  # fmt: skip
    return sign_order(o, DOMAIN, KEY).to_json()


@pytest.mark.parametrize(
    "field",
    [
        "makerAmount",
        "takerAmount",
        "feeAmount",
        "expiry",
        "salt",
        "signature",
        "maker",
        "taker",
        "makerToken",
        "takerToken",
        "feeRecipient",
    ],
)
@pytest.mark.parametrize("raw", [*UINTS, *ADDRESSES, *SIGNATURES])
def test_from_json_same_verdict_whatever_the_path(field: str, raw: object) -> None:
    """Each field set to each raw value: the fast path's order (a plain dict) equals the
    strict path's (a dict subclass never takes the fast path), or both reject."""

    obj: dict[str, object] = dict(_order_json())
    obj[field] = raw
    fast, strict = _verdicts(obj)
    assert fast == strict


class _Slow(dict[str, object]):
    """A dict subclass: never takes the fast path."""


def _verdicts(obj: dict[str, object]) -> list[object]:
    """``from_json`` of ``obj`` as a plain dict, then as a ``_Slow``: the order or the errors."""
    got: list[object] = []
    for value in (obj, _Slow(obj)):
        try:
            got.append(SignedOrder.from_json(value, DOMAIN))
        except OrderParseError as e:
            got.append(sorted((f.field, f.code) for f in e.errors))
    return got


def test_a_well_formed_order_takes_the_fast_path() -> None:
    """(Else the equivalence above would hold with no fast path at all.)"""
    obj = _order_json()
    fast = _fast_order(obj)
    assert fast is not None and _fast_signature(obj["signature"]) is not None
    assert SignedOrder.from_json(obj, DOMAIN).order == fast


@pytest.mark.parametrize("key", ["maker", "salt", "signature"])
def test_a_missing_or_extra_key_gives_the_strict_verdict(key: str) -> None:
    missing: dict[str, object] = dict(_order_json())
    del missing[key]
    extra: dict[str, object] = {**_order_json(), "extra": "1", 1: "x"}  # type: ignore[dict-item]
    for obj in (missing, extra):
        fast, strict = _verdicts(obj)
        assert fast == strict
