"""What a benchmark's processes compete with for the CPU, sampled while it runs.

Linux's fair scheduler (CFS; EEVDF since 6.6) shares the cores among runnable tasks, and
with ``sched_autogroup_enabled`` (on this machine: every helper's shell is a session, and
each session an autogroup) it shares them among the active *groups* first: a group with
runnable tasks gets an equal share of the machine (no more than its runnable tasks can use),
split equally among its own runnable tasks. So what slows one of our nodes is not the other
processes' CPU use but how many other groups want the CPU and how many of our own other
tasks (the chain, the load generator, the watcher) do. ``RunQueue`` samples both every
``EVERY`` seconds from a thread of this process: every process's state in ``/proc`` (its
main thread; ours thread by thread), grouped by ``/proc/PID/autogroup``. ``sdex.sim.cpu``
replays the samples.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any


def _state(path: str) -> str:
    try:
        return Path(path).read_text().rsplit(")", 1)[1].split(None, 1)[0]
    except (OSError, IndexError):
        return ""


def _autogroup(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/autogroup").read_text().split()[0]
    except (OSError, IndexError):
        return ""  # a kernel thread, or gone


def _threads_running(pid: str) -> int:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    return sum(_state(f"/proc/{pid}/task/{t}/stat") == "R" for t in tids)


class RunQueue:
    """Per sample: our group's runnable tasks besides the nodes (less this sampler) and each
    other active group's runnable processes."""

    EVERY = 0.05

    def __init__(self, nodes: list[int]) -> None:
        self.nodes = {str(p) for p in nodes}
        self.mine = _autogroup("self")
        self.groups: dict[str, str] = {}
        self.samples: list[tuple[float, int, list[int]]] = []
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> tuple[int, list[int]]:
        own = -1  # this sampler, running now
        others: dict[str, int] = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            group = self.groups.get(pid)
            if group is None:
                group = self.groups[pid] = _autogroup(pid)
            if not group:
                continue
            if group == self.mine:
                if pid not in self.nodes:
                    own += _threads_running(pid)
            elif _state(f"/proc/{pid}/stat") == "R":
                others[group] = others.get(group, 0) + 1
        return max(0, own), sorted(others.values())

    def _run(self) -> None:
        while not self._stop.wait(self.EVERY):
            own, others = self.sample()
            self.samples.append((time.monotonic() - self.t0, own, others))

    def stop(self) -> dict[str, float]:
        """Means over the window: our other runnable tasks, other active groups, and every
        runnable task besides the nodes (as if there were no groups)."""
        self._stop.set()
        self._thread.join(timeout=5)
        n = max(1, len(self.samples))
        own = sum(s[1] for s in self.samples) / n
        return {
            "own_group_others_runnable": round(own, 2),
            "other_groups_active": round(sum(len(s[2]) for s in self.samples) / n, 2),
            "other_tasks_runnable": round(own + sum(sum(s[2]) for s in self.samples) / n, 2),
        }

    def trace(self) -> dict[str, Any]:
        """One sample per ``EVERY`` seconds from the start (the latest by then: the sampler
        runs late on a busy machine): ``own`` and ``groups`` as ``sdex.sim.cpu`` takes them."""
        own: list[float] = []
        groups: list[list[int]] = []
        k = 0
        last = self.samples[-1][0] if self.samples else -1.0
        for i in range(int(last / self.EVERY) + 1 if self.samples else 0):
            while k + 1 < len(self.samples) and self.samples[k + 1][0] <= (i + 1) * self.EVERY:
                k += 1
            own.append(float(self.samples[k][1]))
            groups.append(self.samples[k][2])
        return {"step": self.EVERY, "own": own, "groups": groups}
