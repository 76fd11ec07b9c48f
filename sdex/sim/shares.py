"""How Linux's scheduler shares a machine's cores among task groups (``sched_autogroup``),
for ``sdex.sim.cpu``."""

from __future__ import annotations


def group_share(cores: float, ours: float, groups: list[int]) -> float:
    """Cores the group with ``ours`` runnable tasks gets among groups with ``groups``
    runnable tasks each: max-min fair (each group an equal share of what is left, a group
    that wants less than that takes what it wants, one core a task at most)."""
    wants = sorted([(min(float(g), cores), 1) for g in groups] + [(min(ours, cores), 0)])
    left, n = cores, len(wants)
    for want, mine in wants:
        got = min(want, left / n)
        if mine == 0:
            return got
        left, n = left - got, n - 1
    return 0.0
