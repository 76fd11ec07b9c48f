"""fee87: ``HeadSignal.read_block`` (the lane's read of the latest block, a replacement's, a
displacement's: ``Fees.of``) bounded a fee by the block's number only when the answer had a
readable one: an answer without it (missing, null, not a quantity, past 64 bits) skipped
the bound, its fee believed up to the ceiling and signed with (one lying answer, the same
hole fee86 closed for a lied number). Now a fee without a readable number is not believed."""

from __future__ import annotations

import pytest

from sdex.chain.headsignal import HeadSignal
from sdex.errors import ChainError
from sdex.settlement.gas import Fees

GWEI = 10**9
LIE = 50_000 * GWEI

NUMBERS = [  # (case, the answer's number field: absent when None)
    ("absent", None),
    ("null", "null"),
    ("empty quantity", "0x"),
    ("not hex", "0xzz"),
    ("past 64 bits", "0x1" + "0" * 16),
    ("an integer", 101),
]


@pytest.mark.parametrize(("name", "number"), NUMBERS, ids=[n for n, _ in NUMBERS])
def test_a_fee_without_a_readable_number_is_not_believed(name: str, number: object) -> None:
    """(main: each believed, 50,000 gwei signed with: failed 6 of 6.)"""
    heads = HeadSignal(lambda: 100)
    assert heads.read(100, GWEI) is None
    block: dict[str, object] = {"baseFeePerGas": hex(LIE)}
    if number is not None:
        block["number"] = None if number == "null" else number
    with pytest.raises(ChainError):
        Fees(heads).of(block)
    assert heads.read_fee == (100, GWEI), name


def test_a_block_without_a_fee_nor_a_number_is_as_before() -> None:
    """A block without a base fee (a chain before London) bounds nothing and signs no fee:
    believed, as before."""
    heads = HeadSignal(lambda: 100)
    assert Fees(heads).of({}) == (0, 0)
    assert Fees(heads).of({"number": "0x65"}) == (0, 0)
