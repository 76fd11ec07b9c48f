"""confirm98: a receipt the watcher's read refuted (``Tally.bar`` with ``watcher``) was barred in
``Tally.barred`` alone: once ``MAX_TALLIED`` more receipts were barred (``closed``: the bars
cleared, every receipt barred) and another one judged again lifted that (``rejudge``), the
refuted one was barred no more, and reads apart (two in a row on the liar) could believe it.
Now a refuted receipt stays barred till judged again itself (``rejudged``: only once the
mirror has its block). Pure bookkeeping: no chain is needed to tell what it remembers."""

from __future__ import annotations

import pytest

from sdex.settlement.confirm import MAX_TALLIED, Tally
from tests.test_review97b_tally_bound import receipt


def test_a_refuted_receipt_stays_barred_past_a_full_tally(monkeypatch: pytest.MonkeyPatch) -> None:
    tally = Tally()
    refuted = receipt(0)
    tally.bar(refuted, "0x" + "ab" * 32)  # (the watcher's word: another block at its number)
    for n in range(1, MAX_TALLIED + 2):  # (each one more receipt a read apart denied)
        tally.bar(receipt(n))
    assert tally.closed is not None and tally.said_not(refuted)
    monkeypatch.setattr("sdex.settlement.tally.REJUDGE_AFTER", 0.0)
    other = receipt(MAX_TALLIED + 5)
    assert tally.due(other)
    tally.rejudge(other)  # (the full tally's bar lifted: every receipt judged again)
    assert not tally.said_not(other)
    # before: forgotten with the full tally's bars, believed on two reads in a row
    assert tally.said_not(refuted) and tally.due(refuted)
    tally.rejudge(refuted)  # (``rejudged``: once the mirror has its block there)
    assert not tally.said_not(refuted)
