"""dup93: a revert whose data starts with a known selector (``Error(string)``, ``Panic``, one of
the Exchange's errors) but whose body is not its arguments came out of
``ErrorDecoder.decode`` as eth-abi's ``DecodingError`` (``InsufficientDataBytes``), not a
``ContractRevert``: a lying or broken endpoint's answer to an ``eth_call`` escaped every
``except ChainError`` around the Exchange's and a token's reads (``sdex.chain.exchange``).
Now such a revert is kept as it came (a ``ContractRevert`` with its raw data).

Real Hardhat (the suite's chain), a real loopback proxy (``tests/rpcfault.py``) answering every
``eth_call`` with a JSON-RPC revert error carrying the test's data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sdex.chain import Rpc
from sdex.chain.exchange import Exchange, Token
from sdex.errors import ContractRevert, ExchangeError
from tests.conftest import Chain
from tests.rpcfault import Answer, _proxy

ERROR_STRING = "08c379a0"
PANIC = "4e487b71"


@contextmanager
def reverting_calls(upstream: str, data: str) -> Iterator[str]:
    """A proxy to ``upstream`` answering each ``eth_call`` with a revert carrying ``data``."""

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_call":
            return None
        error = {"code": 3, "message": "execution reverted", "data": data}
        return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "error": error}).encode()

    with _proxy(upstream, intercept) as url:
        yield url


@pytest.mark.parametrize(
    "data",
    ["0x" + ERROR_STRING + "ff" * 5, "0x" + PANIC, "0x" + ERROR_STRING + "00" * 31 + "20"],
    ids=["Error(string) cut", "Panic empty", "Error(string) no length"],
)
def test_a_malformed_revert_of_a_read_is_a_contract_revert(chain: Chain, data: str) -> None:
    c = chain
    with reverting_calls(c.rpc.url, data) as url:
        rpc = Rpc(url)
        exchange = Exchange(rpc, c.exchange.address)
        with pytest.raises(ContractRevert) as raised:  # (before: InsufficientDataBytes)
            exchange.min_valid_salt(c.address(0))
        assert raised.value.data == bytes.fromhex(data[2:])
        assert not isinstance(raised.value, ExchangeError), raised.value
        with pytest.raises(ContractRevert):
            Token(rpc, c.weth.address).balance_of(c.address(0))


def test_a_well_formed_revert_is_still_decoded(chain: Chain) -> None:
    c = chain
    said = b"no".ljust(32, b"\0")
    body = (32).to_bytes(32, "big") + (2).to_bytes(32, "big") + said
    data = "0x" + ERROR_STRING + body.hex()
    with reverting_calls(c.rpc.url, data) as url, pytest.raises(ExchangeError) as raised:
        Exchange(Rpc(url), c.exchange.address).min_valid_salt(c.address(0))
    assert (raised.value.name, raised.value.args_by_name) == ("Error", {"message": "no"})
