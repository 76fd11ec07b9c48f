"""small94: a ``ContractRevert``'s message showed the whole revert data as hex, with no bound:
a hostile endpoint's 100 KB revert was 200,000 characters in every log line and error that
named it (``Rpc``'s ``_revert_message``, ``ContractRevert``'s own, an ``ExchangeError``'s
decoded argument). Now the first ``SHOWN_DATA_BYTES`` (256 hex characters) and the length;
the exception's ``data`` stays whole.

Real Hardhat (the suite's chain), a real loopback proxy (``tests/rpcfault.py``) answering every
``eth_call`` with a JSON-RPC revert error carrying the test's data."""

from __future__ import annotations

import pytest

from sdex.chain import Rpc
from sdex.chain.exchange import Exchange
from sdex.errors import SHOWN_DATA_BYTES, ContractRevert, ExchangeError, TransactionFailed
from tests.conftest import Chain
from tests.test_dup93_malformed_revert import ERROR_STRING, reverting_calls

HUGE = 100_000
"""Bytes of the hostile revert (200,000 hex characters)."""


def test_a_huge_revert_is_shown_bounded(chain: Chain) -> None:
    c = chain
    data = bytes(range(256)) * (HUGE // 256)
    hostile = reverting_calls(c.rpc.url, "0x" + data.hex())
    with hostile as url, pytest.raises(ContractRevert) as raised:
        Exchange(Rpc(url), c.exchange.address).min_valid_salt(c.address(0))
    e = raised.value
    assert e.data == data  # (kept whole)
    said = str(e)
    assert len(said) < 600, len(said)  # (before: 200,000 characters and more)
    assert data[:SHOWN_DATA_BYTES].hex() in said and f"({len(data)} bytes)" in said, said
    assert len(str(ContractRevert(data))) < 600  # (its own message, no endpoint's)
    assert len(str(TransactionFailed("0x" + "ab" * 32, ContractRevert(data)))) < 700


def test_a_huge_decoded_reason_is_shown_bounded(chain: Chain) -> None:
    c = chain
    said = b"x" * HUGE
    body = (32).to_bytes(32, "big") + len(said).to_bytes(32, "big") + said
    hostile = reverting_calls(c.rpc.url, "0x" + ERROR_STRING + body.hex())
    with hostile as url, pytest.raises(ExchangeError) as raised:
        Exchange(Rpc(url), c.exchange.address).min_valid_salt(c.address(0))
    assert raised.value.args_by_name == {"message": said.decode()}  # (kept whole)
    assert len(str(raised.value)) < 1100, len(str(raised.value))  # (before: 100,000 and more)


def test_a_short_revert_is_shown_whole() -> None:
    assert str(ContractRevert(b"\x01\x02")) == "reverted with data 0x0102"
