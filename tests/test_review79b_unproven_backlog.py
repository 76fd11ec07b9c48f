"""review79b: a maker's copies whose blocks below (``Unproven.below``, review79) alone pass
the bound of reads a block are judged in parts, oldest first, never put off for good.

Copies are noted at the block their verdict was read at and judged ``LATER_BLOCKS`` later;
while the code reads fail (a backend outage: ``_charge_unproven`` waits) they pile up. Once
one maker's copies spanned more than ``READS`` x ``LATER_BLOCKS`` blocks below, ``below`` put
that maker off at every block: its copies were never charged nor let go, their senders'
shares (``PER_PEER``) stayed full (every later copy of theirs rejected uncharged), and
``READS`` such makers, always the oldest (``due``), stopped every charge of the node."""

from __future__ import annotations

import pytest

from sdex.node.unproven import LATER_BLOCKS, READS, Unproven

M1, M2 = "0x" + "11" * 20, "0x" + "22" * 20


def h(i: int) -> bytes:
    return i.to_bytes(32, "big")


def judge(u: Unproven, head: int, code_below: set[tuple[str, int]]) -> tuple[int, int]:
    """One block's ``_charge_unproven`` as the node runs it: the due makers, none with code at
    ``head``; ``code_below``: the (maker, block) pairs where it had code. (charged, spared)."""
    has_code = dict.fromkeys(u.due(head), False)
    pairs, later = u.below(head, list(has_code))
    for maker in later:
        del has_code[maker]
    had = {p for p in pairs if p in code_below}
    charge, spared = u.settle(head, has_code, had, set(pairs))
    return sum(charge.values()), len(spared)


@pytest.mark.parametrize("spaced", [3, 1])
@pytest.mark.parametrize("peers", [["a", "b", "c"], ["a", "b"]])
def test_a_makers_long_backlog_is_judged_in_parts(spaced: int, peers: list[str]) -> None:
    """Copies of one maker from each of ``peers`` noted every ``spaced`` blocks, judged only
    once all are due (the reads failed meanwhile): each is charged within a few blocks (one
    spared: its maker had code a block below its read, and so any other copy read within
    ``LATER_BLOCKS`` above that block), and their senders' shares free
    again (before: no copy left, at any block: failed 4 of 4)."""
    u = Unproven()
    block, noted = 10, 0
    for p in peers:
        for i in range(64):
            u.note(p, h(i), M1, block)
            block += spaced
            noted += 1
    u.note("d", h(1), M2, block)  # (another maker's, after them)
    spared_at = (M1, 10 + 5 * spaced - 1)  # (code a block below the sixth copy's read)
    head = block + LATER_BLOCKS
    charged = spared = 0
    for at in range(head, head + 2 * len(peers) * 64 // READS + 4):
        c, s = judge(u, at, {spared_at})
        charged, spared = charged + c, spared + s
        if not len(u):
            break
    assert len(u) == 0, f"{len(u)} copies never judged"
    below = 1 if spaced >= LATER_BLOCKS else LATER_BLOCKS  # (copies whose blocks hold it)
    assert (charged, spared) == (noted + 1 - below, below), (charged, spared)
    u.note("a", h(999), M1, head)  # (its share free again)
    assert len(u) == 1 and u.unheld == 0
