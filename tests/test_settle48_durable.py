"""The own settlements' fills the settler stored are not written again by the watcher
(``sdex.node.fillmemory.DurableFills``): only fills equal in every field are passed over, and
a reorg or a reset forgets them all (their rows may have been removed)."""

from __future__ import annotations

import dataclasses

from sdex.model import FillEvent
from sdex.node.fillmemory import DurableFills
from sdex.store import StoredFill


def fill(log_index: int, block: int = 7, tx: str = "0x" + "ab" * 32) -> FillEvent:
    return FillEvent(
        order_hash=bytes([log_index]) * 32,
        maker="0x" + "11" * 20,
        taker="0x" + "22" * 20,
        maker_filled=10**18,
        taker_filled=3 * 10**17,
        fee_recipient="0x" + "33" * 20,
        fee=0,
        block_number=block,
        tx_hash=tx,
        log_index=log_index,
    )


def test_stored_fills_are_passed_over_and_only_equal_ones() -> None:
    known = DurableFills()
    a, b, c = fill(0), fill(1), fill(2)
    assert known.unwritten([a, b, c]) == [a, b, c]  # (nothing known: all written)
    known.add([StoredFill.of(a, True), StoredFill.of(b, True)])  # (the settler's rows)
    assert known.unwritten([a, b, c]) == [c]
    assert known.passed_over == 2
    # the same transaction's fill at another height, with another amount, or its hash in
    # other letters only: another height or amount is another fill, written
    moved = dataclasses.replace(a, block_number=8)
    other = dataclasses.replace(b, maker_filled=1)
    upper = dataclasses.replace(a, tx_hash=a.tx_hash.upper().replace("0X", "0x"))
    assert known.unwritten([moved, other, upper]) == [moved, other]


def test_a_reorg_forgets_them_all_and_the_oldest_go_first() -> None:
    known = DurableFills(kept=3)
    fills = [fill(i) for i in range(5)]
    known.add(fills)
    assert known.unwritten(fills) == fills[:2]  # (the two oldest forgotten: written again)
    known.forget()
    assert known.unwritten(fills) == fills
