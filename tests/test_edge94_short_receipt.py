"""edge94: a settlement's status 1 receipt whose logs do not account for its matches is not
believed: its wait asks again (``sdex.settlement.outcome.unaccounted``, ``poll_receipt``'s
``whole``), and ``outcome`` never raises IndexError.

Before, ``outcome`` paired the matches with the receipt's ``OrderFilled`` logs by position: a
receipt short of a fill (from the chain endpoint: a broken or hostile one, or a balancer's
backend that lies) raised IndexError out of the settlement, logged as "settlement failed",
its matches counted failed and their orders matched again, while the chain had settled them.
Real Hardhat mining only when told; a real node and SQLite store behind settle89's loopback
balancer, which answers the settlement's receipt without its last ``OrderFilled`` log a
while, then as the chain has it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sdex.book import Side
from sdex.chain import Receipt
from sdex.chain.rpc import quantity
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.model import SettleOutcome
from sdex.settlement.outcome import Unaccounted, outcome, unaccounted
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_settle89_sticky_receipt import Said, pooled_behind_sticky
from tests.test_settle93_sticky_receipt import _fill

__all__ = ["pooling"]

LIES = 4
"""Short receipts told before the test looks: one made the settlement fail before."""


def receipt_of(c: Chain, logs: list[object], status: str = "0x1") -> Receipt:
    return Receipt.from_rpc(
        {
            "transactionHash": "0x" + "ab" * 32,
            "blockHash": "0x" + "cd" * 32,
            "blockNumber": "0x10",
            "gasUsed": hex(150_000),
            "contractAddress": None,
            "logs": logs,
            "status": status,
        }
    )


def test_a_receipt_short_of_a_fill_is_unaccounted_not_an_index_error(chain: Chain) -> None:
    c = chain
    a1, b1 = c.sign(ask(c, ALICE, E18, 3000 * E6)), c.sign(bid(c, BOB, E18, 3000 * E6))
    a2, b2 = c.sign(ask(c, CAROL, E18, 3000 * E6)), c.sign(bid(c, BOB, E18, 3100 * E6))
    m1 = Match(a1, b1, MatchAmounts(E18, 3000 * E6, 0, 0), Side.BID)
    m2 = Match(a2, b2, MatchAmounts(E18, 3000 * E6, 0, 0), Side.BID)
    tx = "0x" + "ab" * 32
    logs = [
        _fill(c, a1, b1, 0, 15, tx),
        _fill(c, b1, a1, 1, 15, tx),
        _fill(c, a2, b2, 2, 15, tx),
        _fill(c, b2, a2, 3, 15, tx),
    ]
    ex, whole = c.exchange, receipt_of(c, logs)
    assert unaccounted(ex, [m1, m2], whole) == ""
    settled = outcome(ex, [m1, m2], whole, tx, ex.fills(whole.logs))
    assert [r.outcome for r in settled] == [SettleOutcome.SETTLED] * 2
    wrong = {
        "short of its last fill": logs[:3],
        "short of a match": logs[:2],
        "no logs": [],
        "a pair swapped": [logs[1], logs[0], *logs[2:]],
        "another match's fills": [logs[2], logs[3], logs[0], logs[1]],
        "a fill too many": [*logs, logs[3]],
    }
    for case, some in wrong.items():
        short = receipt_of(c, some)
        assert unaccounted(ex, [m1, m2], short), case
        with pytest.raises(Unaccounted):  # (not IndexError)
            outcome(ex, [m1, m2], short, tx, ex.fills(short.logs))
    # a reverted one is judged by its status alone
    assert unaccounted(ex, [m1, m2], receipt_of(c, [], "0x0")) == ""
    # a log with the fill's topic that decodes as none: not accounted, no exception
    bad = copy.deepcopy(logs)
    assert isinstance(bad[3], dict)
    bad[3]["data"] = "0x00"
    assert "not decoded" in unaccounted(ex, [m1, m2], receipt_of(c, bad))


async def test_a_short_receipt_is_asked_again_not_counted_failed(
    pooling: Chain, tmp_path: Path
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    lies: list[str] = []
    told: dict[str, Any] = {}
    async with pooled_behind_sticky(c, tmp_path, maker, taker) as (b, node, api, _):
        s = node.settler
        [tx] = s.in_flight

        def answer(call: object, port: int) -> Said:  # (the receipt short of a fill)
            if not told or not isinstance(call, dict):
                return None
            method, params = call.get("method"), call.get("params") or [None]
            if method == "eth_getTransactionReceipt" and params == [tx]:
                lies.append(method)
                return {"jsonrpc": "2.0", "id": call.get("id"), "result": told["short"]}
            return None

        b.answer = answer
        # (no await from the block mined to the lie told: the node reads nothing between)
        c.rpc.call("evm_mine")
        mined = c.rpc.call("eth_getTransactionReceipt", tx)
        assert mined is not None and quantity(mined["status"]) == 1
        topic = "0x" + c.exchange._fill_topic.hex()
        [last] = [i for i, g in enumerate(mined["logs"]) if g["topics"][0] == topic][-1:]
        short = {**mined, "logs": mined["logs"][:last] + mined["logs"][last + 1 :]}
        told["short"] = short  # (Hardhat has no eth_getBlockReceipts: asked by hash)
        # before: the short receipt believed, IndexError, "settlement failed", the pair
        # counted failed and both orders matched again (the chain had settled them)
        await wait_for(lambda: len(lies) >= LIES or s.failed or s.settled, timeout=60)
        assert (s.settled, s.failed) == (0, 0) and tx in s.in_flight, (s.failed, lies)
        told.clear()  # (the chain's receipt from here on)

        async def filled() -> bool:
            return await api.status(maker) == "filled" and not s.in_flight

        await wait_for(filled, timeout=30)
        assert (s.settled, s.lost, s.failed) == (1, 0, 0), (s.settled, s.lost, s.failed)
    assert c.exchange.order_info(maker.order).filled == E18
