"""The mirror's sparse checkpoints (``sdex.mirror.checkpoints``): bounded, every answer a
block recorded with its own hash, dense enough near the head, and none left above a
reorg's fork point."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.mirror.checkpoints import LEVELS, PER_LEVEL, Checkpoints


def hash_of(n: int) -> str:
    return f"0x{n:064x}"


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, 2**40),
    gaps=st.lists(st.integers(1, 3000), min_size=1, max_size=400),
    probes=st.lists(st.integers(0, 2**41), max_size=20),
)
def test_bounded_and_every_answer_a_recorded_block(
    start: int, gaps: list[int], probes: list[int]
) -> None:
    c = Checkpoints()
    added = set()
    n = start
    for g in gaps:
        n += g
        c.add(n, hash_of(n))
        added.add(n)
        assert len(c) <= PER_LEVEL * (n.bit_length() + 1) <= LEVELS * PER_LEVEL
    assert c.newest() == n and c.at_or_below(n) == (n, hash_of(n))
    for p in probes:
        got = c.at_or_below(p)
        if got is None:  # (the newest is always kept)
            assert p < n
            continue
        number, h = got
        assert number <= p and number in added and h == hash_of(number)


@settings(max_examples=30, deadline=None)
@given(first=st.integers(0, 10_000), count=st.integers(1, 20_000))
def test_dense_near_the_head(first: int, count: int) -> None:
    """Block after block (a node following the chain): below any number at distance ``d``
    from the newest, a checkpoint within ``2 * (d + 1) / (PER_LEVEL - 1)``."""
    c = Checkpoints()
    last = first + count - 1
    for n in range(first, last + 1):
        c.add(n, hash_of(n))
    for probe in range(first, last + 1, max(1, count // 500)):
        got = c.at_or_below(probe)
        below = got[0] if got is not None else first - 1  # (none kept: the first one's gone)
        assert probe - below <= 2 * (last - probe + 1) / (PER_LEVEL - 1)


@given(
    numbers=st.lists(st.integers(0, 5000), min_size=1, max_size=200, unique=True),
    fork=st.integers(0, 5000),
)
def test_none_above_a_fork_point_and_none_out_of_order(numbers: list[int], fork: int) -> None:
    c = Checkpoints()
    for n in sorted(numbers):
        c.add(n, hash_of(n))
    before = c.at_or_below(min(numbers))
    c.add(min(numbers), "0xother")  # (not above the newest: left out)
    assert c.at_or_below(min(numbers)) == before
    c.drop_above(fork)
    got = c.at_or_below(10**9)
    assert got is None or got[0] <= fork
    c.add(fork + 1, "0xnew")  # the new branch's block at that height
    assert c.at_or_below(fork + 1) == (fork + 1, "0xnew")
    c.clear()
    assert len(c) == 0 and c.at_or_below(10**9) is None
