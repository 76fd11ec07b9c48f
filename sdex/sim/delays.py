"""The real nodes' own waits for a core, replayed (sim23): each node's main thread's
``run_delay`` (``/proc/PID/schedstat``: the nanoseconds it was runnable but not running,
which Linux measures exactly) per run on a core, step by step, as ``bench/runqueue.py``
sampled them in the window. With ``LinkModel.node_delays`` every node has a core of its own
(``cores == 0``) and each job it starts waits first as long as its node's real thread
waited per run in that step (measured; nothing fitted): its own line's backlog, the jobs
queued behind a wait, is then the simulated node's. Or (``LinkModel.node_speeds``) each node
runs its jobs at the share of a core its real thread got while it was runnable in that
step (CPU over CPU and ``run_delay``): all its waits, not only a woken one's."""

from __future__ import annotations

import math
from collections.abc import Callable


class Delays:
    """``free_at`` for ``sdex.sim.cpu.Cpu``: ``per_run[node][k]``, seconds, the wait of a
    job that ``node`` starts in step ``k`` (of ``step`` seconds from ``start()``; none before
    the first step or after the last, a node past the list's: none)."""

    def __init__(self, per_run: list[list[float]], step: float, start: Callable[[], float]) -> None:
        self.per_run, self.step, self.start = per_run, step, start

    def _value(self, node: int, t: float, default: float) -> float:
        if node < 0 or node >= len(self.per_run) or self.step <= 0:
            return default
        start = self.start()
        if start == math.inf:  # (before the first order: no step yet)
            return default
        k = int((t - start) // self.step)
        values = self.per_run[node]
        return values[k] if 0 <= k < len(values) else default

    def free_at(self, node: int, t: float) -> float:
        return t + max(0.0, self._value(node, t, 0.0))

    def speed(self, node: int, t: float) -> float:
        """As ``free_at``'s table read as each step's share of a core (1 outside it)."""
        return min(1.0, self._value(node, t, 1.0))
