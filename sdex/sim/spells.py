"""Waits for a core that come in spells: a node is runnable but not running for a while,
and every job it would start meanwhile waits for the spell's end.

A real node on a loaded machine waits for a core all or nothing (``checkTiming``'s
``offCpuUs``: most checks none at all, the rest around 10 ms): its process is switched out
or its loop is busy for a spell, and each message it handles in that spell waits, the next
ones as long as the first (less the time that passed), not a fresh draw each. ``Spells``
replays that in simulated time: each key (a node, or with ``scope == "machine"`` one for
all nodes: the other processes' busy spells hold every node at once) alternates clear
stretches and spells. Its two inputs are measured, not fitted: ``share``, the share of
the real checks that waited (a wake-up at a random instant lands in a spell as often as
the spells cover the time), and ``lengths``, equally likely lengths of a spell (the waits
of the checks that did wait). The clear stretches are exponential, their mean set so the
spells cover ``share`` of the time: ``mean(lengths) * (1 - share) / share``. (A wake-up
waits the rest of its spell, which is the spell's whole length in distribution only for
exponential lengths; the measured ones are about that.)

Each key draws from a random source of its own (the model's seed and the key), made
lazily as far ahead as asked, so the spells do not depend on which node asks first.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

SCOPES = ("node", "machine")
"""``node``: each node's own spells; ``machine``: one sequence all nodes are in together."""


@dataclass(frozen=True)
class SpellModel:
    """The measured inputs of ``Spells``."""

    share: float
    """The share of time a key is in a spell, in [0, 1) (0: never)."""
    lengths: tuple[float, ...]
    """Equally likely spell lengths in seconds, each finite and above 0."""
    scope: str = "node"

    def __post_init__(self) -> None:
        if not isinstance(self.share, int | float) or not 0.0 <= self.share < 1.0:
            raise ValueError(f"share must be in [0, 1), not {self.share!r}")
        if not self.lengths:
            raise ValueError("lengths must not be empty")
        for v in self.lengths:
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"spell lengths must be finite and above 0, not {v!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, not {self.scope!r}")

    @property
    def clear_mean(self) -> float:
        """Mean seconds between spells (inf: no spells)."""
        if self.share <= 0:
            return math.inf
        mean = sum(self.lengths) / len(self.lengths)
        return mean * (1.0 - self.share) / self.share


@dataclass
class _Line:
    """One key's spells, drawn so far: ``(start, end)`` in time order, and where drawn to."""

    rng: random.Random
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    drawn_to: float = 0.0


class Spells:
    """When each node may next start a job (``free_at``), by ``SpellModel``; ``seed``
    picks the draws (the same seed, the same spells)."""

    def __init__(self, model: SpellModel, seed: int | str = 0) -> None:
        self.model = model
        self.seed = seed
        self._lines: dict[int, _Line] = {}

    def _line(self, node: int) -> _Line:
        key = 0 if self.model.scope == "machine" else node
        line = self._lines.get(key)
        if line is None:
            rng = random.Random(f"spells-{self.seed}-{key}")
            line = self._lines[key] = _Line(rng)
            if rng.random() < self.model.share:  # in a spell at time 0
                line.drawn_to = self._length(rng)
                line.starts.append(0.0)
                line.ends.append(line.drawn_to)
        return line

    def _length(self, rng: random.Random) -> float:
        lengths = self.model.lengths
        return lengths[rng.randrange(len(lengths))]

    def _draw_past(self, line: _Line, t: float) -> None:
        """Draw spells until one starts after ``t``."""
        mean = self.model.clear_mean
        if math.isinf(mean):
            return
        while line.drawn_to <= t:
            start = line.drawn_to + line.rng.expovariate(1.0 / mean)
            end = start + self._length(line.rng)
            line.starts.append(start)
            line.ends.append(end)
            line.drawn_to = end

    def free_at(self, node: int, t: float) -> float:
        """The earliest time at or after ``t`` when ``node`` is not in a spell."""
        if self.model.share <= 0:
            return t
        line = self._line(node)
        self._draw_past(line, t)
        i = bisect.bisect_right(line.ends, t)  # the first spell not over by ``t``
        if i < len(line.ends) and line.starts[i] <= t:
            return line.ends[i]
        return t
