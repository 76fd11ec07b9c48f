"""contract33: the node's memory of blamed makers and of pairs nobody could be blamed for
(``sdex.settlement.blame``): bounded, decaying, and one blame is not hostility."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sdex.settlement.blame import HOSTILE_SCORE, MakerMemory, PairBar


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_one_blame_is_not_hostile_two_are_and_it_decays() -> None:
    clock = Clock()
    mem = MakerMemory(half_life=100.0, clock=clock)
    maker = "0xAbC0000000000000000000000000000000000001"
    mem.note(maker)
    assert not mem.hostile(maker)  # (an honest maker short of funds once)
    clock.t += 10
    mem.note(maker.lower())  # (addresses compared in lower case)
    assert mem.hostile(maker)
    clock.t += 1000  # ten half-lives
    assert not mem.hostile(maker)
    assert mem.score(maker) < 0.01


@given(st.lists(st.integers(0, 50), max_size=300), st.integers(1, 8))
def test_maker_memory_is_bounded_and_keeps_the_latest(makers: list[int], kept: int) -> None:
    mem = MakerMemory(kept=kept, clock=Clock())
    for m in makers:
        mem.note(f"0x{m:040x}")
        assert len(mem) <= kept
    if makers:
        assert mem.score(f"0x{makers[-1]:040x}") >= 1.0


def test_a_pair_is_barred_after_its_tries_then_served() -> None:
    clock = Clock()
    bar = PairBar(tries=3, seconds=60.0, clock=clock)
    a, b = b"\x01" * 32, b"\x02" * 32
    assert [bar.note(a, b), bar.note(b, a), bar.note(a, b)] == [False, False, True]
    assert bar.barred(b, a) and bar.barred(a, b)  # (either way round)
    assert not bar.barred(a, b"\x03" * 32)
    clock.t += 61
    assert not bar.barred(a, b)  # served: tried again, counted anew
    assert not bar.note(a, b)


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=200))
def test_pair_bar_is_bounded(pairs: list[tuple[int, int]]) -> None:
    bar = PairBar(kept=5, clock=Clock())
    for x, y in pairs:
        bar.note(bytes([x]) * 32, bytes([y]) * 32)
        assert len(bar) <= 5


def test_the_hostile_threshold_is_two_blames_within_a_half_life() -> None:
    assert 1.0 < HOSTILE_SCORE <= 1.5
