"""``Pushers.forgive`` reads the standing medians only when enough pushers have standing
(stand91): the same verdicts as stand89's rule, with and without standing.

stand89's ``forgive`` built, at every charge, a list of every active other's decayed sum with
its standing flag, then sorted the flagged ones, even where no pusher had standing (a node
asking no fee, the flood bench): about 1.7 times the base's work a charge beside 11 pushers
(docs/BENCHMARKS.md "stand91"). Now the others' sums are sorted as before stand89 and the
standing ones read only while ``LEAST_TRADED`` others' last charges had it (``Pushers._held``).
``stand89_forgive`` below is stand89's rule, restated from its commit (ce33b8cc); both are fed
the same random charges (1-12 pushers, 4 decades, random gaps, standing never, fixed per pusher
or changing per charge, and a table cap small enough to drop pushers) and must agree on every
verdict and on the tokens forgiven."""

from __future__ import annotations

import bisect
import random

import pytest

from sdex.gossip import alike
from sdex.gossip.alike import Pushers, weighted_median


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Stand89:
    """stand89's ``Pushers.forgive`` (ce33b8cc), the reference."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sums: dict[str, tuple[float, float, bool]] = {}
        self.forgiven = 0.0

    def forgive(self, pusher: str, tokens: float, traded: bool = False) -> bool:
        now = self.clock()
        held = self.sums.get(pusher)
        fall = alike._fall  # (the rule's own decay)
        mine = (0.0 if held is None else held[0] * fall(now - held[1])) + max(0.0, tokens)
        self.sums[pusher] = (mine, now, traded)
        active = [
            (s * fall(now - at), h)
            for p, (s, at, h) in self.sums.items()
            if p != pusher and now - at <= alike.ACTIVE
        ]
        if len(self.sums) > alike.MOST_PUSHERS:
            self.sums = {p: v for p, v in self.sums.items() if now - v[1] <= alike.ACTIVE}
        others = sorted(s for s, _h in active)
        near = others[bisect.bisect_left(others, mine / alike.NEAR) :]
        if len(near) < alike.LEAST_OTHERS:
            return False
        standing = sorted(s for s, h in active if h)
        if len(standing) >= alike.LEAST_TRADED:
            others, near = standing, standing[bisect.bisect_left(standing, mine / alike.NEAR) :]
            if len(near) < alike.LEAST_TRADED:
                return False
        if mine > alike.ALIKE * min(weighted_median(others), near[(len(near) - 1) // 2]):
            return False
        self.forgiven += tokens
        return True


def differences(seed: int, standing: str, charges: int) -> tuple[int, int, int]:
    """(charges, verdicts differing, charges forgiven) over one random run."""
    rng = random.Random(seed)
    clock = Clock()
    mine, ref = Pushers(clock), Stand89(clock)
    pushers = [f"p{i}" for i in range(rng.randint(1, 12))]
    scale = {p: 10 ** rng.uniform(-2, 2) for p in pushers}
    fixed = {p: rng.random() < 0.5 for p in pushers}
    differ = forgiven = 0
    for _ in range(charges):
        clock.now += rng.expovariate(1 / rng.choice((0.001, 0.05, 0.5, 3.0)))
        p = rng.choice(pushers)
        tokens = scale[p] * rng.uniform(0.2, 5)
        traded = {
            "never": False,
            "fixed": fixed[p],
            "changing": rng.random() < 0.5,
        }[standing]
        a, b = mine.forgive(p, tokens, traded), ref.forgive(p, tokens, traded)
        differ += a != b
        forgiven += a
    assert mine.forgiven == ref.forgiven
    return charges, differ, forgiven


@pytest.mark.parametrize("standing", ["never", "fixed", "changing"])
def test_the_same_verdicts_as_stand89s_rule(standing: str) -> None:
    runs = [differences(seed, standing, 400) for seed in range(100)]
    assert sum(d for _c, d, _f in runs) == 0
    assert sum(f for _c, _d, f in runs) > 1000  # (forgiveness did happen, not a vacuous run)


def test_the_same_verdicts_when_the_table_drops_pushers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alike, "MOST_PUSHERS", 4)  # (both read it at the charge)
    for standing in ("never", "fixed", "changing"):
        runs = [differences(seed, standing, 300) for seed in range(60)]
        assert sum(d for _c, d, _f in runs) == 0
