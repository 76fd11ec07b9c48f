"""The simulator's clock: timed events in one heap, and what a node sent and received.

No sockets and no asyncio (``sdex.sim.network`` runs the nodes on it).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Sim:
    """Timed events, run in time order (ties in the order they were scheduled)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._q: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self.events = 0

    def at(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._q, (t, next(self._seq), fn, args))

    def run(self, until: float, done: Callable[[], bool] | None = None) -> None:
        q = self._q
        check_at = self.now
        while q and q[0][0] <= until:
            t, _, fn, args = heapq.heappop(q)
            self.now = t
            fn(*args)
            self.events += 1
            if done is not None and t >= check_at:
                if done():
                    return
                check_at = t + 0.01
        self.now = max(self.now, until) if not q or q[0][0] > until else self.now


@dataclass
class Traffic:
    """What one node sent and received, by message kind."""

    sent: dict[str, int] = field(default_factory=dict)
    up: dict[str, int] = field(default_factory=dict)
    down: dict[str, int] = field(default_factory=dict)

    def add(self, table: dict[str, int], kind: str, n: int) -> None:
        table[kind] = table.get(kind, 0) + n
