"""How Linux's scheduler shares a machine's cores among task groups (``sched_autogroup``),
for ``sdex.sim.cpu``."""

from __future__ import annotations

import math
from collections.abc import Callable


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


WEIGHTS = ("entities", "groups", "shares")
"""How ``core_share`` weighs another active group on a core, beside ours (on every core, one
entity each): ``entities``, each group one entity of equal weight on each core it has a
runnable task on (a group with ``n`` runnable tasks is on ``min(n, cores)`` of the cores);
``groups`` (``--core-wait queue-groups``, sim25), each group one entity on one core,
however many tasks it has; ``shares``, the kernel's group shares spread over the cores a
group runs on (a group of one task has all its weight on its core, ours, spread over every
core, a ``cores``-th on each: ``calc_group_shares``), so ours gets ``1 / (1 + groups)``."""


def core_share(cores: int, groups: list[int], own: float = 0.0, weights: str = "entities") -> float:
    """The share of one core a task of the nodes' group gets while it runs, by the kernel's
    group scheduling (``sched_autogroup``: each session a task group, the groups sharing each
    core first, then each group's share among its own runnable tasks): ``groups``, each other
    active group's runnable tasks now (the machine's other processes, measured); ``own``, the
    nodes' group's other runnable tasks (the chain, the load generator; the nodes' own
    contention for the cores is the line's, ``sdex.sim.line``). The other groups' tasks are
    spread evenly over the ``cores`` (the kernel's load balancing); in (0, 1]."""
    if cores < 1:
        raise ValueError(f"cores must be at least 1, not {cores!r}")
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, not {weights!r}")
    if weights == "entities":  # on min(n, cores) cores each, equal weight: per core, on average
        others = sum(min(n, cores) for n in groups if n > 0) / cores
    elif weights == "groups":  # each group one entity, on one core (spread over the cores)
        others = sum(1 for n in groups if n > 0) / cores
    else:  # per core on average each group 1/cores of weight, ours 1/cores: as one to one
        others = float(sum(1 for n in groups if n > 0))
    return 1.0 / (1.0 + others) / (1.0 + max(0.0, own) / cores)


def share_trace(
    cores: int,
    groups: list[list[int]],
    own: list[float] | None = None,
    per: int = 1,
    weights: str = "entities",
) -> list[float]:
    """``core_share`` at each sample of a measured trace (``groups``: per sample, each other
    active group's runnable tasks; ``own``: per sample, the nodes' group's other runnable
    tasks, or None to leave them out), averaged over each ``per`` samples (a step)."""
    if per < 1:
        raise ValueError(f"per must be at least 1, not {per!r}")
    if own is not None and len(own) != len(groups):
        raise ValueError("own and groups must have one value a sample each")
    shares = [
        core_share(cores, g, 0.0 if own is None else own[k], weights) for k, g in enumerate(groups)
    ]
    return step_means(shares, per)


def step_means(values: list[float], per: int) -> list[float]:
    """``values`` averaged over each ``per`` of them (a step; the last may have fewer)."""
    if per < 1:
        raise ValueError(f"per must be at least 1, not {per!r}")
    return [sum(values[k : k + per]) / len(values[k : k + per]) for k in range(0, len(values), per)]


class Steps:
    """A measured value at a time: ``values``, one per ``step`` seconds from ``start()`` on;
    its first value before the first step (or before ``start()`` is known), its last after
    the last (the load as it was measured at the window's ends); ``default`` where there are
    none. Each value finite, in [``low``, ``high``]."""

    low, high, default = 0.0, math.inf, 0.0
    open_low = False

    def __init__(self, values: list[float], step: float, start: Callable[[], float]) -> None:
        if not step > 0 or math.isinf(step):
            raise ValueError(f"step must be above 0, not {step!r}")
        for v in values:
            low_ok = v > self.low if self.open_low else v >= self.low
            if not (low_ok and v <= self.high and math.isfinite(v)):
                raise ValueError(f"a value out of ({self.low}, {self.high}]: {v!r}")
        self.values, self.step, self.start = values, step, start

    def at(self, t: float) -> float:
        if not self.values:
            return self.default
        start = self.start()
        if math.isinf(start) or t < start:
            return self.values[0]
        return self.values[min(len(self.values) - 1, int((t - start) // self.step))]


class GroupShare(Steps):
    """The share of a core the nodes' group gets at a time (``Cpu.share_at``), one value a
    step (``share_trace``), each in (0, 1]; a whole core where there are none."""

    low, high, default = 0.0, 1.0, 1.0
    open_low = True
