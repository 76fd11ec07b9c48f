"""settle89 (left41, "Settlement"): after a reorg to a shorter branch (a devnet reverted:
``evm_revert``), the bound of a fee read is the new branch's head once the mirror read a block
of it, not the old branch's height.

fee87 bounds a read by the head the node knows and the highest block read for the mirror
(``HeadSignal.reached``: while a reorg's new branch is read, the chain came as far as
before). On a shorter branch ``reached`` stayed the old height till the chain grew past it:
an answer saying a block up to 4 past that height was bounded by EIP-1559 over every block
from the new head on (9/8 a block), a lie of many times the chain's fee believed and signed
with (the fee cap twice it: the operator agreeing to pay it, bounds84's harm). The rule is
``HeadSignal``'s alone, as fee87's (``Mirror.undo_to`` passes the fork point, the watcher's
range reads are ``placed``)."""

from __future__ import annotations

import pytest

from sdex.chain.headsignal import FEE_STEPS, HeadSignal

GWEI = 10**9
OLD = 100
"""The old branch's head."""
FORK = 60
NEW = 62
"""The new, shorter branch's head."""


def reverted() -> tuple[HeadSignal, list[int]]:
    """Blocks up to ``OLD`` read for the mirror at 1 gwei, a reorg to ``FORK`` (its new
    branch's blocks read for the mirror up to ``NEW``); the signal and the mirror's head."""
    known = [OLD]
    heads = HeadSignal(lambda: known[0])
    for n in range(FORK - 2, OLD + 1):
        assert heads.read(n, GWEI, placed=True) is None
    heads.rewound(FORK)
    known[0] = FORK
    for n in range(FORK + 1, NEW + 1):
        assert heads.read(n, GWEI, placed=True) is None
        known[0] = n
    return heads, known


@pytest.mark.parametrize(
    ("number", "fee", "believed"),
    [
        (OLD + FEE_STEPS, 100 * GWEI, False),  # (before: believed, 45 steps of 9/8)
        (OLD, 50 * GWEI, False),  # (before: believed)
        (NEW + 1, GWEI + GWEI // 10, True),  # (the chain's fee moving on: believed)
        (NEW + FEE_STEPS, GWEI, True),
    ],
    ids=["a lie past the old height", "a lie at the old height", "the next block", "4 on"],
)
def test_a_shorter_branch_bounds_reads_by_its_own_head(
    number: int, fee: int, believed: bool
) -> None:
    heads, _ = reverted()
    assert (heads.read(number, fee) is None) == believed, heads.untrusted_why


def test_the_old_height_holds_till_the_new_branch_is_read() -> None:
    """Between the undo and the first read of the new branch the chain may be as far as
    before (fee87's rule, kept): the chain's fee a few blocks past the fork point is
    believed; once a block of the new branch is read, a lie at the old height is not."""
    known = [OLD]
    heads = HeadSignal(lambda: known[0])
    for n in range(FORK - 2, OLD + 1):
        assert heads.read(n, GWEI, placed=True) is None
    heads.rewound(FORK)
    known[0] = FORK
    assert heads.read(FORK + 6, GWEI, latest=True) is None  # (the new branch's head)
    assert heads.read(FORK + 1, GWEI, placed=True) is None
    assert heads.read(OLD, 50 * GWEI) is not None  # (before: believed)
