"""fee86: bounds84's rule bounded a read base fee by the number of the block the same answer
said (review86a): one answer saying block 1, or a block far ahead, was not bounded at all and
believed at once. Now a number below the last read is believed only a lagging backend's (at
most ``FEE_STEPS`` below, the last read reachable from it), a number past the head this node
knows (the mirror's) is bounded as of ``FEE_STEPS`` blocks past that head, and neither is
confirmed by a read again nor bounds the next reads. The real-chain test is
tests/test_review86a_fee_number.py's (a proxy lying to a real node)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.chain.headsignal import FEE_STEPS, HeadSignal, reaches, within

GWEI = 10**9
HEAD = 100
"""The mirror's head in these cases; the last fee read is block 100's, 1 gwei."""

CASES = [  # (the known head, reads after block 100's 1 gwei: (block, fee); believed; kept)
    ("a lagging backend's block", HEAD, [(98, GWEI * 5 // 4)], [True], (HEAD, GWEI)),
    ("lagging, its fee unable to lead", HEAD, [(99, 2 * GWEI)], [False], (HEAD, GWEI)),
    ("block 1", HEAD, [(1, 50_000 * GWEI)], [False], (HEAD, GWEI)),
    ("block 1 twice", HEAD, [(1, 50_000 * GWEI)] * 2, [False, False], (HEAD, GWEI)),
    ("block 1 with the fee", HEAD, [(1, GWEI)], [False], (HEAD, GWEI)),
    (
        "the block read last, another fee twice",
        HEAD,
        [(HEAD, 50_000 * GWEI)] * 2,
        [False, False],
        (HEAD, GWEI),
    ),
    ("far ahead twice", HEAD, [(10**6, 50_000 * GWEI)] * 2, [False, False], (HEAD, GWEI)),
    ("far ahead with the fee", HEAD, [(10**6, GWEI)], [True], (HEAD, GWEI)),
    ("just past the known head", HEAD, [(HEAD + FEE_STEPS, GWEI * 3 // 2)], [True], None),
    # an idle node: the mirror went on (its blocks not read by a range), the fee with it
    ("idle, the head known far on", 10**6, [(10**6, 20 * GWEI)], [True], None),
    # fee93: a rise past EIP-1559's reach of the mirror's read is never confirmed by a read
    # again (bounds84's rule for a devnet's set fee believed a lie answered twice: review92)
    ("idle, a jump read again", 160, [(160, 50_000 * GWEI)] * 2, [False, False], (HEAD, GWEI)),
    (
        "the next block, a lie twice",
        HEAD,
        [(HEAD + 1, 50_000 * GWEI)] * 2,
        [False, False],
        (HEAD, GWEI),
    ),
]


@pytest.mark.parametrize(
    ("name", "known", "reads", "believed", "kept"), CASES, ids=[c[0] for c in CASES]
)
def test_a_read_fee_is_bounded_by_the_block_this_node_knows(
    name: str,
    known: int,
    reads: list[tuple[int, int]],
    believed: list[bool],
    kept: tuple[int, int] | None,
) -> None:
    """(main believed "block 1" and "far ahead" at once: review86a's unit test failed 2 of 2.)"""
    heads = HeadSignal(lambda: known)
    assert heads.read(HEAD, GWEI) is None
    got = [heads.read(n, fee) is None for n, fee in reads]
    assert got == believed, name
    assert heads.read_fee == (kept or reads[-1]), name


def test_a_range_read_is_placed() -> None:
    """The watcher's range (blocks asked for by number) is bounded at its own number: a
    catch-up far past the mirror's head is no lie."""
    heads = HeadSignal(lambda: HEAD)
    assert heads.read(HEAD, GWEI) is None
    assert heads.read(HEAD + 500, GWEI // 3, placed=True) is None
    assert heads.read_fee == (HEAD + 500, GWEI // 3)


@given(st.integers(0, 10**15), st.integers(0, 3 * FEE_STEPS), st.integers(0, 10**15))
def test_reaches_is_within_for_its_steps(fee: int, steps: int, other: int) -> None:
    """``reaches`` agrees with ``within`` where that bounds (up to ``FEE_STEPS`` blocks), and
    past them only widens."""
    if steps <= FEE_STEPS:
        assert reaches((7, fee), 7 + steps, other) == (
            within((7, fee), 7 + steps, other) == "within"
        )
    if reaches((7, fee), 7 + steps, other):
        assert reaches((7, fee), 8 + steps, other)
