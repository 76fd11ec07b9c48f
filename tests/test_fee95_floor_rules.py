"""fee95's rules of the fee floor (``sdex.chain.feefloor``), as ``HeadSignal`` applies them
(the real node's: ``test_fee95_final_part_fee``, ``test_fee95_old_store_fee``): blocks passed
unread are no step of a rise (a fall bounded as before); a read of the latest block (by tag)
never moves the floor, its block counting once read by number (the lead's decision on
review93b's follow-up); a store saved without a floor believes no fee till a block is read
by number."""

from __future__ import annotations

from sdex.chain.feebounds import highest
from sdex.chain.headsignal import HeadSignal

GWEI = 10**9


def _heads(head: list[int]) -> HeadSignal:
    h = HeadSignal(known=lambda: head[0])
    h.read(100, GWEI, placed=True)
    return h


def test_blocks_passed_unread_are_no_step_of_a_rise() -> None:
    head = [100]
    h = _heads(head)
    h.passed(400)  # (a final part: blocks 101..400 applied without headers)
    head[0] = 400
    jump = highest((100, GWEI), 401) // 2  # (main: within reach over the blocks passed)
    assert h.read(401, jump, placed=True) is not None
    assert h.read(402, GWEI * 9 // 8, placed=True) is None  # (9/8 a header from 400's)
    assert h._floor == (402, GWEI * 9 // 8)


def test_a_fall_past_blocks_passed_unread_is_believed_as_before() -> None:
    head = [100]
    h = _heads(head)
    h.passed(130)
    head[0] = 130
    fell = GWEI * 7**30 // 8**30  # (the chain's fee, 30 empty blocks on: fee88's start)
    assert h.read(131, fell, placed=True) is None


def test_a_latest_read_never_moves_the_floor() -> None:
    head = [100]
    h = _heads(head)
    head[0] = 104  # (blocks of the node's own settlements applied from receipts)
    assert h.read(104, GWEI * 9 // 8, latest=True) is None  # (believed, signed with)
    assert h._floor == (100, GWEI)  # (not read by number: not the floor)
    assert h.read(104, GWEI * 9 // 8, placed=True) is None
    assert h._floor == (104, GWEI * 9 // 8)


def test_a_store_without_a_floor_believes_no_fee_before_a_read_by_number() -> None:
    head = [100]
    h = _heads(head)  # (the deploy block's read, at the start)
    head[0] = 500
    h.unproven()
    assert h.read(501, GWEI, latest=True) is not None  # (main: the deploy block's reach)
    assert h.read_fee is None and h.floor_at(500) is None
    assert h.read(501, GWEI, placed=True) is None  # (the first read by number)
    assert h._floor == (501, GWEI)
    assert h.read(502, 2 * GWEI, latest=True) is not None
