"""The others' median a charge is forgiven against is weighted by their charges (peers83,
and by count among the near ones, the lower of the two: review84,
``sdex.gossip.alike``): admitted ids charged next to nothing neither pull an honest relay's
median down (review82b: 3 such ids beside 4 honest relays, 0 of their 160 charges forgiven)
nor make up the ``LEAST_OTHERS`` a lone flooder's forgiveness takes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.alike import ALIKE, LEAST_OTHERS, NEAR, Pushers, weighted_median

HONEST = 100.0


def forgiven(others: list[float], mine: float) -> bool:
    """Whether a pusher charged ``mine`` is forgiven beside ``others``, each charged once,
    all at the same instant."""
    pushers = Pushers(clock=lambda: 50.0)
    for i, tokens in enumerate(others):
        pushers.forgive(f"other{i}", tokens)
    return pushers.forgive("me", mine)


@pytest.mark.parametrize(
    ("others", "mine", "expected"),
    [
        # honest relays alike, with ids charged next to nothing beside them (review82b)
        ([HONEST] * 3, HONEST, True),
        ([HONEST] * 3 + [0.01] * 3, HONEST, True),  # (by count: the lower median 0.01)
        ([HONEST] * 3 + [0.01] * 50, HONEST, True),
        ([HONEST] * 3 + [0.0] * 50, ALIKE * HONEST, True),
        # honest relays unequal (peers81: 3-10 times apart)
        ([HONEST / 10, HONEST / 3, HONEST], HONEST, True),
        ([HONEST / 10, HONEST / 5, HONEST / 3], HONEST, False),  # (by count 20: review84)
        ([HONEST / 10, HONEST / 5, HONEST / 4], HONEST, False),  # (its median: 20)
        # a flooder among honest relays, idle ids or not
        ([HONEST] * 4, 4 * HONEST, False),
        ([HONEST] * 4 + [0.01] * 20, 4 * HONEST, False),
        # a lone flooder: idle ids do not make up the count of others
        ([0.01] * 3, HONEST, False),
        ([0.01] * 30, HONEST, False),
        ([HONEST, 0.01, 0.01], HONEST, False),  # (one colluder alike, two idle ids)
        ([HONEST, HONEST, 0.01], HONEST, False),
        ([HONEST, HONEST, HONEST / NEAR], HONEST, True),  # (the third just near)
        ([HONEST, HONEST, HONEST / NEAR / 2], HONEST, False),
        ([HONEST, HONEST], HONEST, False),  # (too few others)
        # colluders need half of the others' charges at a third of the flooder's sum, and
        # half of the near others' number (review84: by weight alone a split flood passed)
        ([HONEST] * 6 + [3 * HONEST] * 2, 9 * HONEST, False),  # (their 600 of 1,200)
        ([HONEST] * 6 + [3 * HONEST] * 3, 9 * HONEST, False),  # (900 of 1,500; 3 of 9)
        ([HONEST] * 4 + [3 * HONEST] * 5, 9 * HONEST, True),  # (1,500 of 1,900; 5 of 9)
        # the grief that remains: near ids below a third outnumbering the honest relays
        # (review84's count median), or far ones holding half of the others' charges
        ([HONEST] * 3 + [HONEST / 4] * 12, HONEST, False),  # (300 of 600)
        ([HONEST] * 3 + [HONEST / 4] * 11, HONEST, False),  # (11 of 14 by count)
        ([HONEST] * 3 + [HONEST / 4] * 2, HONEST, True),  # (2 of 5 by count)
        ([HONEST] * 3 + [HONEST / 20] * 11, HONEST, True),  # (not near: 55 of 355)
        ([0.0, 0.0, 0.0], 1.0, False),
    ],
)
def test_forgiven_against_the_weighted_median_of_near_others(
    others: list[float], mine: float, expected: bool
) -> None:
    assert LEAST_OTHERS == 3
    assert forgiven(others, mine) is expected


@pytest.mark.parametrize(
    ("sums", "median"),
    [
        ([], 0.0),
        ([0.0, 0.0], 0.0),
        ([5.0], 5.0),
        ([1.0, 1.0, 1.0], 1.0),
        ([1.0, 2.0, 3.0], 2.0),  # (1 + 2 = 3: half of 6)
        ([1.0, 1.0, 100.0, 100.0], 100.0),
        ([0.01, 0.01, 0.01, 10.0, 10.0, 10.0], 10.0),
        ([0.0, 0.0, 0.0, 0.0, 4.0], 4.0),
    ],
)
def test_the_weighted_median_is_the_least_sum_reaching_half(
    sums: list[float], median: float
) -> None:
    assert weighted_median(sums) == median


charges = st.lists(st.floats(min_value=0.0, max_value=1e6), max_size=12)


@settings(deadline=None)  # (a loaded machine)
@given(charges, st.floats(min_value=1e-3, max_value=1e6), st.integers(0, 40))
def test_ids_charged_nothing_never_change_a_verdict(
    others: list[float], mine: float, idle: int
) -> None:
    assert forgiven(others + [0.0] * idle, mine) is forgiven(others, mine)


@settings(deadline=None)
@given(charges, st.floats(min_value=1e-3, max_value=1e6))
def test_a_pusher_past_alike_every_other_is_never_forgiven(
    others: list[float], factor: float
) -> None:
    mine = ALIKE * max(others, default=0.0) * (1.0 + factor) + factor
    assert not forgiven(others, mine)
