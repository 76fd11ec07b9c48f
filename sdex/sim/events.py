"""The simulator's clock: timed events in one heap, and what a node sent and received.

No sockets and no asyncio (``sdex.sim.network`` runs the nodes on it).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOOK_EVERY = 256
"""Events run between two looks at the wall clock for ``Sim.progress`` (a look costs more
than an event of the cheapest kind)."""


class Sim:
    """Timed events, run in time order (ties in the order they were scheduled)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._q: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self.events = 0
        self.progress: Callable[[float, int], None] | None = None
        """Called with (simulated seconds, events run) at most once every ``progress_every``
        wall seconds while events run (``sdex simulate``'s progress lines: user64 saw
        nothing for 400 s of a 1,000-node run)."""
        self.progress_every = 5.0
        self._said = time.monotonic()

    def at(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._q, (t, next(self._seq), fn, args))

    def run(self, until: float, done: Callable[[], bool] | None = None) -> None:
        q = self._q
        check_at = self.now
        progress = self.progress
        while q and q[0][0] <= until:
            t, _, fn, args = heapq.heappop(q)
            self.now = t
            fn(*args)
            self.events += 1
            if progress is not None and not self.events % LOOK_EVERY:
                self._look(progress, t)
            if done is not None and t >= check_at:
                if done():
                    return
                check_at = t + 0.01
        self.now = max(self.now, until) if not q or q[0][0] > until else self.now

    def _look(self, progress: Callable[[float, int], None], t: float) -> None:
        if (now := time.monotonic()) - self._said >= self.progress_every:
            self._said = now
            progress(t, self.events)


@dataclass
class Traffic:
    """What one node sent and received, by message kind."""

    sent: dict[str, int] = field(default_factory=dict)
    up: dict[str, int] = field(default_factory=dict)
    down: dict[str, int] = field(default_factory=dict)

    def add(self, table: dict[str, int], kind: str, n: int) -> None:
        table[kind] = table.get(kind, 0) + n
