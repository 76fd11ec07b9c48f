"""fee87: a reorg or a reset the mirror took (``HeadSignal.rewound``) cleared the last fee
read, and the first read after it was believed whatever it said under the ceiling (one
answer of 50,000 gwei signed with, as before bounds84). Now a reorg bounds the next reads
by the highest fee kept at or below its fork point (a block on both branches), or the
node's first (the start's deploy block) when the fork is below every kept one (review93b:
the removed floor's fee carried to the fork when it is above the first); a reset
(another chain) by none: a read is believed only once a block of the new chain is read for
the mirror by its number (``placed``), as at the start. The real-chain window (between the
mirror's undo and the watcher's next range read) is not timed here: the rule is
``HeadSignal``'s alone (``Mirror.undo_to`` passes its fork point, ``Mirror.clear`` a reset)."""

from __future__ import annotations

import pytest

from sdex.chain.headsignal import FEE_STEPS, KEPT_READS, HeadSignal

GWEI = 10**9
LIE = 50_000 * GWEI
DEPLOY = 10
HEAD = 100

CASES = [  # (case, rewound to (None: a reset), then reads (block, fee, placed); believed)
    ("a reorg: a lie at the new head", HEAD - 1, [(HEAD, LIE, False)], [False]),
    ("a reorg: the chain's fee at the new head", HEAD - 1, [(HEAD + 1, GWEI, False)], [True]),
    ("a reorg: a lie read for the mirror", HEAD - 1, [(HEAD, LIE, True)], [False]),
    (
        "a reorg below every kept read: the first bounds",
        DEPLOY,
        [(DEPLOY + 2, LIE, False)],
        [False],
    ),
    ("a reorg below the first: no bound", DEPLOY - 1, [(DEPLOY, LIE, False)], [False]),
    (
        "a reorg below the first: read for the mirror",
        DEPLOY - 1,
        [(DEPLOY, 3 * GWEI, True)],
        [True],
    ),
    ("a reset: a lie", None, [(5, LIE, False)], [False]),
    ("a reset: a lie twice", None, [(5, LIE, False)] * 2, [False, False]),
    ("a reset: the new chain's fee", None, [(5, GWEI // 2, False)], [False]),
    (
        "a reset: a block read for the mirror, then a lie",
        None,
        [(5, GWEI // 2, True), (6, LIE, False)],
        [True, False],
    ),
    (
        "a reset: a block read for the mirror bounds the next",
        None,
        [(5, GWEI // 2, True), (6, GWEI // 2, False)],
        [True, True],
    ),
]


@pytest.mark.parametrize(("name", "fork", "reads", "believed"), CASES, ids=[c[0] for c in CASES])
def test_the_first_read_after_a_rewind_is_bounded(
    name: str, fork: int | None, reads: list[tuple[int, int, bool]], believed: list[bool]
) -> None:
    """(main: every first read believed, a lie included: failed 7 of 12.)"""
    known = [HEAD]
    heads = HeadSignal(lambda: known[0])
    assert heads.read(DEPLOY, GWEI, placed=True) is None  # (the start's deploy block)
    for n in range(HEAD - 3, HEAD + 1):
        assert heads.read(n, GWEI, placed=True) is None
    heads.rewound(fork, reset=fork is None)
    known[0] = fork if fork is not None else 0
    got = [heads.read(n, fee, placed=placed) is None for n, fee, placed in reads]
    assert got == believed, name


def test_the_kept_fees_are_bounded_and_a_reorg_keeps_those_below_its_fork() -> None:
    """At most ``KEPT_READS`` fees kept; a reorg drops those above its fork point only, and a
    second reorg finds the next one down; one below every kept one carries the removed floor's
    fee to the fork (review93b: it fell back to the first, the deploy block's, whose reach over
    every block since held every fee to the ceiling)."""
    heads = HeadSignal(lambda: 10**6)
    for n in range(1, 2 * KEPT_READS):
        assert heads.read(n, GWEI + n, placed=True) is None
    heads.rewound(2 * KEPT_READS - 10)
    assert heads.read_fee == (2 * KEPT_READS - 10, GWEI + 2 * KEPT_READS - 10)
    heads.rewound(2 * KEPT_READS - 20)
    assert heads.read_fee == (2 * KEPT_READS - 20, GWEI + 2 * KEPT_READS - 20)
    heads.rewound(KEPT_READS - 10)  # (below every kept one: the removed floor's fee at the
    assert heads.read_fee == (KEPT_READS - 10, GWEI + 2 * KEPT_READS - 20)  # fork: review93b)
    assert heads.read(KEPT_READS - 10 + FEE_STEPS, GWEI, placed=True) is None
