"""review95: a revert whose ``Error(string)`` (or a string error's) length is past any
index came out of ``ErrorDecoder.decode`` as ``OverflowError`` (eth-abi's "cannot fit
'int' into an index-sized integer"), not a ``ContractRevert``: dup93 caught eth-abi's
``DecodingError`` only.

Two ways in: a lying endpoint's answer to an ``eth_call`` (it escaped every ``except
ChainError`` around the Exchange's and a token's reads), and a batch's ``MatchSkipped``,
whose ``reason`` is the revert data of the match's own frame, a listed token's (or its hook's)
included: ``Exchange.skipped`` raised, so ``outcome.unaccounted`` found the receipt "a log
not decoded" and its wait never believed it (edge94: asked again every half second, its
orders in flight for good).

Real Hardhat (the suite's chain), a real loopback proxy (``tests/rpcfault.py``) answering
every ``eth_call`` with the test's revert; the Exchange's own ABI encoding the log."""

from __future__ import annotations

import pytest

from sdex.book import Side
from sdex.chain import Receipt, Rpc
from sdex.chain.abi import encode
from sdex.chain.exchange import Exchange, Token
from sdex.chain.receipt import Log
from sdex.errors import ContractRevert, ExchangeError
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.settlement.outcome import unaccounted
from tests.conftest import Chain
from tests.test_dup93_malformed_revert import ERROR_STRING, reverting_calls
from tests.test_node import ALICE, BOB, E6, E18, ask

HUGE = (32).to_bytes(32, "big") + (1 << 255).to_bytes(32, "big")
"""A string's offset (32), then its length: 2^255 bytes."""


def test_a_revert_of_a_read_with_a_string_past_any_index_is_a_contract_revert(
    chain: Chain,
) -> None:
    c = chain
    data = "0x" + ERROR_STRING + HUGE.hex()
    with reverting_calls(c.rpc.url, data) as url:
        rpc = Rpc(url)
        with pytest.raises(ContractRevert) as raised:  # (before: OverflowError)
            Exchange(rpc, c.exchange.address).min_valid_salt(c.address(0))
        assert raised.value.data == bytes.fromhex(data[2:])
        assert not isinstance(raised.value, ExchangeError), raised.value
        with pytest.raises(ContractRevert):
            Token(rpc, c.weth.address).balance_of(c.address(0))


def test_a_skipped_match_whose_reason_is_such_a_revert_is_accounted(chain: Chain) -> None:
    c = chain
    ex = c.exchange
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    incoming = c.sign(ask(c, BOB, E18, 3000 * E6))  # (any two orders: the log names them)
    reason = bytes.fromhex(ERROR_STRING) + HUGE
    event = ex.abi.events["MatchSkipped"]
    data = encode(["bytes32", "bytes32", "bytes"], [resting.hash, incoming.hash, reason])
    log = Log(ex.address, [event.topic, (0).to_bytes(32, "big")], data, 1, "0x" + "ab" * 32, 0)
    (skip,) = ex.skipped([log])  # (before: OverflowError)
    assert skip.reason.data == reason and not isinstance(skip.reason, ExchangeError)
    batch = [Match(resting, incoming, MatchAmounts(E18, 3000 * E6, 0, 0), Side.BID)]
    mined = Receipt(log.tx_hash, 1, 1, "0x" + "cd" * 32, 100_000, [log], None)  # (that log alone)
    assert unaccounted(ex, batch, mined) == ""  # before: "a log not decoded: OverflowError..."
