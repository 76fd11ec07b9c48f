"""review93b (fee93's attacker review): a fee that falls and rises back.

fee93's floor (the bound of a rise, 9/8 a block) moved with any fee kept at or below the
mirror's head, not only the blocks the mirror read by number: a read of the latest block
(the watcher's poll, the settler's before it signs) named a block between the last header
the mirror read and its head (blocks of the node's own settlements, applied from their
receipts with no header read) and a fall past EIP-1559's bounds answered twice was kept as
the floor. Every honest header after it was a rise past the floor's reach, never confirmed:
two lying answers held all signing ~180 blocks (10 gwei from 7 wei), again at will.

Now the floor moves only with a block the mirror read by number (or a saved floor, or one
carried to a reorg's fork); a fall read twice is still believed and signed with. The rule
is ``HeadSignal``'s alone (as tests/test_fee87_rewound_fee.py): the window between the
mirror's head and the last header it read is the node's own settlements' blocks."""

from __future__ import annotations

from sdex.chain.feebounds import highest, reaches
from sdex.chain.headsignal import HeadSignal

GWEI = 10**9
LOW = 7
"""The lie: a fee of 7 wei (EIP-1559's fall stops there), read twice."""


def test_a_fall_read_twice_off_the_mirror_does_not_lower_the_floor() -> None:
    """Mirror read block 100 at 10 gwei, its head at 104 (own blocks, no header read); the
    latest block said twice at 7 wei (believed: a fall read again); the mirror's next header
    at the chain's 10 gwei is believed (main: refused 181 blocks in a row)."""
    known = [100]
    heads = HeadSignal(lambda: known[0])
    assert heads.read(100, 10 * GWEI, placed=True) is None
    known[0] = 104
    assert heads.read(102, LOW, signs=True) is not None  # (past the bounds: read again)
    assert heads.read(103, LOW, signs=True) is None  # (the fall read again: believed)
    assert heads._floor == (100, 10 * GWEI), heads._floor
    refused = 0
    for n in range(105, 400):
        if heads.read(n, 10 * GWEI, placed=True) is None:
            break
        refused += 1
    assert refused == 0, refused
    assert heads._floor == (105, 10 * GWEI)


def test_a_fall_the_feed_confirms_does_not_lower_the_floor() -> None:
    """A fall past the bounds read once at the mirror's head, then announced by the feed
    within its bounds (``confirms``): the announced fee used, the floor kept."""
    known = [100]
    heads = HeadSignal(lambda: known[0])
    assert heads.read(100, 10 * GWEI, placed=True) is None
    known[0] = 104
    assert heads.read(103, LOW, latest=True) is not None
    heads.announce(None, LOW, 104)
    assert heads.base_fee is not None and heads.base_fee[0] == LOW
    assert heads._floor == (100, 10 * GWEI), heads._floor
    assert heads.read(105, 10 * GWEI, placed=True) is None


def test_a_fall_read_by_number_still_moves_the_floor() -> None:
    """The chain's own fall, read by number for the mirror twice (past the bounds, then
    within the first's): the floor follows it, and a rise from it is bounded from there."""
    heads = HeadSignal(lambda: 100)
    assert heads.read(100, 10 * GWEI, placed=True) is None
    assert heads.read(101, GWEI, placed=True) is not None
    assert heads.read(102, GWEI, placed=True) is None
    assert heads._floor == (102, GWEI)
    assert heads.read(103, 10 * GWEI, placed=True) is not None  # (a rise past 9/8)


def test_the_bounds_stop_once_judged() -> None:
    """(``sdex.chain.feebounds``) ``highest`` stops once past the fee it is compared with and
    ``reaches`` once a fee below the 7 wei a fall stops at can never be reached: the same
    answers as the full ``REACH`` walk (a floor held by a jump walked it at each header)."""
    full = {n: highest((0, GWEI), n) for n in (0, 1, 50, 300, 5000)}
    for n, top in full.items():
        for fee in (1, GWEI, top - 1, top, top + 1, 10**30):
            assert (fee > highest((0, GWEI), n, fee)) == (fee > top), (n, fee)
    assert not reaches((0, GWEI), 5000, 3) and reaches((0, GWEI), 5000, 7)
    assert reaches((0, 5), 10, 6) and not reaches((0, 5), 10, 4)
