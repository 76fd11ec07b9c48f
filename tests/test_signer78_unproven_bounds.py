"""signer78: the copies whose charge waits (``sdex.node.unproven``) are bounded, each counted
once, due ``LATER_BLOCKS`` past the block read, charged or spared by the code read then."""

from __future__ import annotations

import pytest

from sdex.node.unproven import LATER_BLOCKS, Unproven

M1, M2 = "0x" + "11" * 20, "0x" + "22" * 20


def h(i: int) -> bytes:
    return i.to_bytes(32, "big")


def test_due_settle_charge_and_spare() -> None:
    u = Unproven()
    u.note("a", h(1), M1, 100)
    u.note("a", h(1), M1, 100)  # (the same copy again: once)
    u.note("a", h(2), M2, 100)
    u.note("b", h(3), M2, 101)
    assert len(u) == 3
    assert u.due(100 + LATER_BLOCKS - 1) == []
    assert u.due(100 + LATER_BLOCKS) == [M1, M2]
    charge, spared = u.settle(100 + LATER_BLOCKS, {M1: False, M2: True})
    assert charge == {"a": 1} and spared == [("a", h(2))]
    assert len(u) == 1  # (b's copy, read a block later: not due yet)
    charge, spared = u.settle(101 + LATER_BLOCKS, {M2: False})
    assert charge == {"b": 1} and spared == [] and len(u) == 0
    assert (u.charged, u.spared, u.unheld) == (2, 1, 0)


@pytest.mark.parametrize(
    ("most", "per_peer", "peers", "each", "held", "unheld"),
    [
        (10, 4, ["a"], 6, 4, 2),  # one sender past its share
        (10, 4, ["a", "b", "c"], 4, 10, 2),  # all senders past the whole
        (10, 8, ["a", "b"], 3, 6, 0),  # under both
    ],
)
def test_bounded(
    most: int, per_peer: int, peers: list[str], each: int, held: int, unheld: int
) -> None:
    u = Unproven(most=most, per_peer=per_peer)
    for p in peers:
        for i in range(each):
            u.note(p, h(i), M1, 5)
    assert (len(u), u.unheld) == (held, unheld)
    charge, _ = u.settle(5 + LATER_BLOCKS, {M1: False})
    assert sum(charge.values()) == held and len(u) == 0
    u.note("a", h(99), M1, 6)  # (room again)
    assert len(u) == 1


def test_a_reset_makes_them_due_at_the_next_block() -> None:
    u = Unproven()
    u.note("a", h(1), M1, 5_000)
    assert u.due(40) == []
    u.reset(40)  # (the chain reset to block 40)
    assert u.due(40) == [] and u.due(41) == [M1]
