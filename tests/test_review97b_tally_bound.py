"""review97b: a ``Tally`` (one settlement's wait: what reads said of its receipts) kept the bars
of ``MAX_TALLIED`` receipts and forgot the oldest past that: a liar that told that many
receipts more, each denied by a read apart, had the first one's denial forgotten, and two reads
apart in a row giving it (a round-robin balancer placing both on the liar) believed it. Now
past that many every receipt is barred (``Tally.closed``) until judged again after
``REJUDGE_AFTER`` s. Pure bookkeeping: no chain is needed to tell what it remembers."""

from __future__ import annotations

import pytest

from sdex.chain import Receipt
from sdex.settlement.confirm import MAX_TALLIED, Tally


def receipt(n: int) -> Receipt:
    """A status 1 receipt of one transaction told in block ``n`` (another hash each)."""
    return Receipt.from_rpc(
        {
            "transactionHash": "0x" + "11" * 32,
            "blockHash": "0x" + f"{n:064x}",
            "blockNumber": hex(100 + n),
            "status": "0x1",
            "gasUsed": hex(150_000),
            "contractAddress": None,
            "logs": [],
        }
    )


def test_a_liars_many_receipts_forget_no_denial() -> None:
    tally = Tally()
    first = receipt(0)
    tally.bar(first)
    for n in range(1, MAX_TALLIED + 2):  # (each one more receipt a read apart denied)
        tally.bar(receipt(n))
    assert tally.said_not(first)  # (before: forgotten, believed on two reads in a row)
    assert tally.said_not(receipt(MAX_TALLIED + 5))  # (one never told: barred too)
    assert len(tally.barred) <= MAX_TALLIED


def test_a_bar_is_judged_again_only_once_due(monkeypatch: pytest.MonkeyPatch) -> None:
    tally = Tally()
    first = receipt(0)
    tally.bar(first)
    assert tally.said_not(first) and not tally.due(first)
    monkeypatch.setattr("sdex.settlement.tally.REJUDGE_AFTER", 0.0)
    assert tally.due(first)
    tally.rejudge(first)
    assert not tally.said_not(first) and not tally.due(first)
