"""settle89 (left41, "Settlement"): after a reorg to a shorter branch (a devnet reverted:
``evm_revert``), a read is bounded by the fork block's own fee and the head the mirror
knows, not by the old branch's height and a fee kept far below.

fee87 bounds a read after a reorg by the highest fee kept at or below the fork point (the
watcher keeps a range's last block alone: often the deploy block's) and by the highest block
read for the mirror (``HeadSignal.reached``, the old branch's height). On a shorter branch an
answer saying a block up to 4 past that height was bounded by EIP-1559 over every block
from the kept one (9/8 a block): a lie of many times the chain's fee believed and signed
with. ``Mirror.undo_to`` now gives the fork block's fee (its header, read for the mirror);
the poll that found the reorg said the chain's head (``reached`` at most it). The real
node's case is tests/test_settle89_shorter_branch_node.py."""

from __future__ import annotations

import pytest

from sdex.chain.headsignal import FEE_STEPS, HeadSignal

GWEI = 10**9
DEPLOY = 10
FORK = 60
OLD = 100
"""The old branch's head (read for the mirror in one range: only it kept)."""


@pytest.mark.parametrize(
    ("number", "fee", "believed"),
    [
        (OLD + FEE_STEPS, 100 * GWEI, False),  # (before: believed, from the deploy block's)
        (OLD, 50 * GWEI, False),  # (before: believed)
        (FORK + FEE_STEPS, 3 * GWEI, False),
        (FORK + 1, GWEI + GWEI // 10, True),  # (the chain's fee moving on: believed)
        (FORK + 2 * FEE_STEPS, GWEI, True),  # (a longer new branch's head, the fee as it was)
    ],
    ids=["past the old height", "at the old height", "4 on, 3x", "the next block", "8 on"],
)
def test_a_reorg_bounds_reads_by_the_fork_blocks_fee(number: int, fee: int, believed: bool) -> None:
    known = [OLD]
    heads = HeadSignal(lambda: known[0])
    assert heads.read(DEPLOY, GWEI, placed=True) is None  # (the start's deploy block)
    assert heads.read(OLD, GWEI, placed=True) is None  # (a range's last block)
    heads.read(FORK + 2, GWEI, latest=True)  # (the poll that finds the reorg: its head)
    heads.rewound(FORK, fork_fee=GWEI)  # (the mirror's header at the fork point)
    known[0] = FORK
    assert (heads.read(number, fee) is None) == believed, heads.untrusted_why
