"""Why review86b's two near-floor cases have no rule of the charges alone (alike86).

``sdex.gossip.alike`` without standing (no pusher ``traded``: the charges alone, as before
stand89, and still so on a node that credits no trade) reads nothing but the pushers' decayed
charges, and its verdicts do not change when every charge is multiplied by the same factor (no
token amount is a constant of the rule: ``ALIKE``, ``NEAR`` and ``LEAST_OTHERS`` are ratios and
a count). So a flood over 4 ids, each charged 16 times an honest relay, beside 4 relays, is
judged as 4 relays beside 4 ids each charged 1/16 of a relay, the flood's ids standing for the
relays and the relays for the cheap ids: each flood id sees 3 others at its own sum and 4 at a
sixteenth of it, as each relay does. Any rule of the charges alone that charged such a flood
(review86b's ``test_a_flood_over_four_ids_far_above_the_relays_is_charged``) would charge the 4
relays beside ids costing a quarter of one relay's intake in all: the cheap grief again
(review86b's other case, R - 1 ids at 1/11, costs (R - 1)/11), by one more id. Telling the two
apart takes something that is not a ratio of charges (how much of the loop a charge is, an id's
age or standing); a flood over 4 ids or more that is forgiven takes at most a quarter of the
loop each, within what its own budget buys (``metered.INTAKE_SHARE``, 0.3), so its forgiveness
spares its budget nothing it would have run out of.

stand89 tells them apart by standing (an order a pusher delivered first traded lately): the
verdicts still do not change when every charge is scaled, standing or not, but the relays'
standing is not the flood's (``test_standing_tells_the_flood_from_the_relays``)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.alike import Pushers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def verdicts(
    groups: list[tuple[str, int, float]], rounds: int = 40, traded: frozenset[str] = frozenset()
) -> list[bool]:
    """Each charge's verdict, in order, over ``rounds`` rounds of 0.1 s: each group's ids
    (name, how many, tokens each) charged in turn, the groups in the given order; those of
    the groups named in ``traded`` with standing."""
    clock, out = Clock(), []
    p = Pushers(clock)
    for _ in range(rounds):
        clock.now += 0.1
        for name, ids, tokens in groups:
            out.extend(p.forgive(f"{name}{k}", tokens, name in traded) for k in range(ids))
    return out


def test_a_flood_over_four_ids_is_judged_as_honest_relays_beside_cheap_ids() -> None:
    relays = 4 * [True]  # (per round, each group's 4 verdicts)
    cheap_first = verdicts([("cheap", 4, 1.0), ("relay", 4, 16.0)])
    flood_last = verdicts([("relay", 4, 16.0), ("flood", 4, 256.0)])
    assert cheap_first == flood_last  # (the same charges, times 16)
    relays_forgiven = sum(v for i, v in enumerate(cheap_first) if i % 8 >= 4)
    assert relays_forgiven >= 0.9 * len(relays) * 40  # (the relays beside cheap ids kept)
    flood_forgiven = sum(v for i, v in enumerate(flood_last) if i % 8 >= 4)
    assert flood_forgiven == relays_forgiven  # (so the flood's ids are forgiven as much)


@settings(deadline=None)  # (a loaded machine)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.floats(min_value=1e-3, max_value=1e4)),
        min_size=1,
        max_size=5,
    ),
    st.integers(-20, 20),
)
def test_verdicts_do_not_change_when_every_charge_is_scaled(
    groups: list[tuple[int, float]], power: int
) -> None:
    named = [(f"g{i}_", ids, tokens) for i, (ids, tokens) in enumerate(groups)]
    scaled = [(name, ids, tokens * 2.0**power) for name, ids, tokens in named]
    assert verdicts(named, rounds=12) == verdicts(scaled, rounds=12)


@settings(deadline=None)  # (a loaded machine)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.floats(min_value=1e-3, max_value=1e4), st.booleans()),
        min_size=1,
        max_size=5,
    ),
    st.integers(-20, 20),
)
def test_verdicts_with_standing_do_not_change_when_every_charge_is_scaled(
    groups: list[tuple[int, float, bool]], power: int
) -> None:
    named = [(f"g{i}_", ids, tokens) for i, (ids, tokens, _t) in enumerate(groups)]
    traded = frozenset(f"g{i}_" for i, (_ids, _tokens, t) in enumerate(groups) if t)
    scaled = [(name, ids, tokens * 2.0**power) for name, ids, tokens in named]
    assert verdicts(named, 12, traded) == verdicts(scaled, 12, traded)


def test_standing_tells_the_flood_from_the_relays() -> None:
    """The first test's two cases, the relays with standing: beside the cheap ids they are
    forgiven as before; the flood over 4 ids, 16 times them, is charged (stand89)."""
    relays = frozenset({"relay"})
    cheap_first = verdicts([("cheap", 4, 1.0), ("relay", 4, 16.0)], traded=relays)
    flood_last = verdicts([("relay", 4, 16.0), ("flood", 4, 256.0)], traded=relays)
    relays_forgiven = sum(v for i, v in enumerate(cheap_first) if i % 8 >= 4)
    assert relays_forgiven >= 0.9 * 4 * 40
    flood_forgiven = sum(v for i, v in enumerate(flood_last) if i % 8 >= 4)
    assert flood_forgiven <= 0.1 * 4 * 40
