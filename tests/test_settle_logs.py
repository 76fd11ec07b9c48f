"""A receipt's logs parsed with what they share checked once (``sdex.chain.tx.logs_from_rpc``):
the same logs as ``Log.from_rpc`` one by one, and the same refusals of hostile ones."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sdex.chain.tx import Log, Receipt, logs_from_rpc
from tests.conftest import Chain
from tests.test_node import ALICE, BOB

TX_A = "0x" + "ab" * 32
TX_B = "0x" + "cd" * 32


def raw_log(tx: str = TX_A, block: str = "0x10", index: int = 0, address: str = "0xAbC") -> dict:
    return {
        "address": address,
        "topics": ["0x" + "11" * 32, "0x" + f"{index:064x}"],
        "data": "0x" + "22" * 64,
        "blockNumber": block,
        "transactionHash": tx,
        "logIndex": hex(index),
    }


def one_by_one(raws: list[dict[str, Any]]) -> list[Log]:
    return [Log.from_rpc(r) for r in raws]


def test_the_same_logs_as_one_by_one() -> None:
    raws = [
        raw_log(index=0),
        raw_log(index=1, address="0xdef"),
        raw_log(TX_B, "0x11", 2),  # another transaction and block (a block's receipts)
        raw_log(index=3),
        raw_log(TX_A.upper().replace("0X", "0x"), index=4),  # another text of one hash
    ]
    assert logs_from_rpc(raws) == one_by_one(raws)
    assert logs_from_rpc([]) == []


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("transactionHash", "0x" + "ab" * 31, ValueError),
        ("transactionHash", 5, ValueError),
        ("blockNumber", hex(1 << 63), ValueError),
        ("blockNumber", "-0x1", ValueError),
        ("blockNumber", "junk", ValueError),
        ("blockNumber", ["0x1"], TypeError),
        ("logIndex", hex(1 << 63), ValueError),
        ("logIndex", "-0x5", ValueError),
        ("logIndex", None, TypeError),
        ("address", None, AttributeError),
        ("address", ["0xabc"], AttributeError),
        ("data", "0xzz", ValueError),
        ("topics", ["0x1"], ValueError),
        ("topics", ["0x" + "11" * 32, "0x" + "22" * 5], ValueError),  # (review23)
        ("topics", ["0x" + "11" * 33], ValueError),
        ("topics", ["0x" + "11" * 32] * 5, ValueError),
        ("topics", ["zz" + "11" * 32], ValueError),
        ("topics", [32], ValueError),
        ("topics", "0x" + "11" * 32, ValueError),
        # (settle48: 66 characters, of which whitespace that bytes.fromhex skipped: a topic
        # of 31 bytes, 30, taken as an order hash or an address word)
        ("topics", ["0x" + "11" * 31 + "  "], ValueError),
        ("topics", ["0x" + "11" * 32, "0x" + " 1" * 32], ValueError),
        ("topics", ["0x" + "\t\n" + "11" * 31], ValueError),
        ("data", "0x" + "22" * 63 + " \n", ValueError),
        ("data", "zz" + "22" * 64, ValueError),  # (no 0x: its first two characters dropped)
        ("data", "0x 2" + "22" * 63, ValueError),
        ("data", 5, ValueError),
    ],
)
def test_a_hostile_log_after_good_ones_is_refused_as_alone(
    field: str, value: object, error: type[Exception]
) -> None:
    # The bad log comes after good ones of the same block and transaction, whose texts are
    # then known: it is refused all the same, with the error of a check one by one.
    bad = raw_log(index=2)
    bad[field] = value
    raws = [raw_log(index=0), raw_log(index=1), bad]
    with pytest.raises(error):
        one_by_one(copy.deepcopy(raws))
    with pytest.raises(error):
        logs_from_rpc(raws)


def test_a_real_receipt_parses_as_one_by_one(chain: Chain) -> None:
    c = chain
    c.weth.transfer(c.sender(ALICE), c.address(BOB), 1)
    receipt = c.weth.transfer(c.sender(ALICE), c.address(BOB), 2)
    raw = c.rpc.call("eth_getTransactionReceipt", receipt.tx_hash)
    assert raw["logs"]
    parsed = Receipt.from_rpc(raw)
    assert parsed.logs == one_by_one(raw["logs"])
    assert parsed.logs[0].data == (2).to_bytes(32, "big")


def raw_receipt(logs: object) -> dict[str, Any]:
    return {
        "transactionHash": TX_A,
        "status": "0x1",
        "blockNumber": "0x10",
        "blockHash": "0x" + "33" * 32,
        "gasUsed": "0x5208",
        "logs": logs,
    }


@pytest.mark.parametrize(
    "raw",
    [
        raw_receipt([raw_log(), {**raw_log(index=1), "address": None}]),
        raw_receipt([{k: v for k, v in raw_log().items() if k != "address"}]),
        raw_receipt([raw_log(), {**raw_log(index=1), "blockNumber": "junk", "address": 5}]),
        raw_receipt([raw_log(), {**raw_log(index=1), "logIndex": "-0x1"}]),
        raw_receipt(None),
        raw_receipt([5]),
        {k: v for k, v in raw_receipt([]).items() if k != "status"},
        {**raw_receipt([]), "gasUsed": None},
        [],
    ],
)
def test_an_answer_that_is_no_receipt_is_a_value_error(raw: Any) -> None:
    """Whatever is wrong in it: the receipt poll reads again on ValueError (review: a
    KeyError or AttributeError went on to the settler as a chain outage, failing the
    matches of a transaction that may have been mined)."""
    with pytest.raises(ValueError):
        Receipt.from_rpc(raw)
