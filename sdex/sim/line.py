"""The shared machine as one line for its cores (``Cpu(queued=True)``, sim14), with the
machine's other processes replayed in it (sim16).

With ``queued`` the shared machine is a queue for its cores instead (sim14): the nodes
(and the observer's task) wait in one line, in the order their jobs became ready, for
``ceil(cores - background)`` cores (each at that capacity's share of one); a job runs to its
end on the core it got, and its node keeps that core for the jobs it has ready next (the
event loop's next callbacks, ``first`` ones included) until ``timeslice`` has passed since
it got it (0: back in line after every job); a job that costs nothing needs no core. A
node's waits for a core that its own peers do not cause (the other processes' busy spells,
its process switched out) come on top, in ``free_at``'s spells: a job that would join the
line in one of its node's spells joins it at the spell's end. With as many cores as tasks
it is the model of a core each (``cores == 0``) with the same spells; with one core, one
job at a time on the whole machine.

With ``queued`` and a ``trace`` (sim16) the machine's other processes are in that line too:
from ``trace_start`` on, at each ``step`` the trace's count of other runnable tasks (with
``groups``, each other group as one task a core at most: the scheduler's entity of a task
group on each core's run queue, ``sched_autogroup``) is replayed as that many tasks (``OTHER``
keys), each joining the line when the trace has it runnable, running a slice of
``timeslice`` (``OTHER_SLICE`` where that is 0) of wall time on the core it gets, and going
back to the line's end while the trace still has it runnable; a step that has fewer takes
the rest off the line and off their cores at once, and the trace's end ends them all. With
``waking_first`` a node's job (the observer's too) joins the line ahead of the other tasks
waiting, behind the nodes' jobs waiting, as the kernel's EEVDF picks a task woken with
service owed (a node uses less than its fair share) before the CPU-bound tasks that used
theirs; the slices running end first (no preemption: ``RUN_TO_PARITY``).
So a node's job waits behind the other processes' slices as behind its peers' jobs, in the
order they became ready, as long as the machine's load was when it was measured.

With ``queued`` and ``bursts`` (sim23) the other processes are replayed by what they ran
instead of how many were runnable at an instant: at each of the bursts' steps, each other
process's measured CPU in that step (``bench/runqueue.py``: its ``utime + stime`` delta; a
process that ran on more than one core, a task a core) joins the line's end as a task with
that much work, running a slice of ``timeslice`` (``OTHER_SLICE`` where that is 0) a turn
and going back to the line's end until its work is done (``Bursts.whole``: all of it in one
turn); work not done by the step's end is carried on, not dropped. So the others' core
seconds are the measured ones whatever the slice, and only how they interleave with the
nodes' jobs is the line's. ``waited``: each node's seconds in the line (its jobs' waits for
a core), to set beside the real nodes' ``run_delay``.

With ``Bursts.fair`` (and each burst's task group, measured: ``sched_autogroup``, a session a
group) the line is not first come first served: a free core goes to the task waiting longest
of the group that has run least (its CPU seconds so far, ``ran``), a group that had nothing
to run joining at the least of the groups running or waiting (no credit for its sleep), as
the kernel's fair scheduler shares the cores among groups first (equal weights). The nodes,
the observer's task and our own group's other processes are group 0, first come first
served among themselves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

EPSILON = 1e-12
"""Work left (CPU seconds) below which a job counts as done (float rounding)."""
WATCHER = -1
"""The key of the observer's task (``LinkModel.watch_cost``) beside the nodes' (0..n-1)."""
OTHER = -2
"""The key of the first replayed other task (queued with a trace); the next ``OTHER - 1``..."""
OTHER_SLICE = 0.003
"""Seconds a replayed other task runs on a core when the line has no ``timeslice``."""


class Clock(Protocol):
    now: float

    def at(self, t: float, fn: Callable[..., None], *args: Any) -> None: ...


@dataclass(frozen=True)
class Bursts:
    """The other processes' measured CPU, step by step (``Cpu(queued=True, bursts=...)``)."""

    step: float
    """Seconds a step (the first from ``trace_start`` on)."""
    ran: list[list[float]]
    """Per step, the CPU seconds each other process ran in it."""
    whole: bool = False
    """A burst runs to its end when it gets a core (else a slice a turn)."""
    groups: list[list[int]] | None = None
    """Per step, each burst's task group (as ``ran``; the nodes' own is 0)."""
    fair: bool = False
    """The line picks by task group: the next core goes to a task of the group that has run
    least (``Line._pick``), as the kernel shares the cores among autogroups first."""


class Line:
    """The line for a shared machine's cores: ``sdex.sim.cpu.Cpu``'s queued model (its
    state is set up by ``Cpu``; the jobs themselves, ``_finish``, are ``Cpu``'s)."""

    sim: Clock
    replay: list[int] | None
    waking_first: bool
    wanted: int
    active: set[int]
    other_seconds: float
    _on_core: dict[int, tuple[int, float]]
    _slices: int
    _trace_start: float
    step: float
    timeslice: float
    _ticking: bool
    holding: dict[int, float]
    servers: int
    speed: float
    ready: deque[int]
    running: int
    queues: dict[int, deque[tuple[float, Callable[..., None], tuple[Any, ...], float]]]

    share_at: Callable[[float], float] | None
    """The share of a core the nodes' group gets at a time, in (0, 1] (sim25: the other
    task groups' load, ``sdex.sim.shares.GroupShare``): a job on a core runs at that share of
    it, the rest of the core the other groups'; None: the whole core."""

    own_at: Callable[[float], float] | None
    """With ``share_at``: the nodes' group's other runnable tasks at a time (the chain, the
    load generator, the watcher, measured), which share the group's time with its busy nodes
    equally; None: none."""

    bursts: Bursts | None
    work: dict[int, float]
    """Bursts: each replayed task's CPU seconds left."""
    waited: dict[int, float]
    """Each node's seconds waiting in the line for a core (not on the core it kept)."""
    _joined: dict[int, float]
    _burst_keys: int
    group_of: dict[int, int]
    """Fair: each replayed task's group (the nodes' and the observer's: 0)."""
    ran: dict[int, float]
    """Fair: each group's CPU seconds so far (its place in the line)."""
    _on: dict[int, int]

    def _finish(self, node: int) -> None:
        raise NotImplementedError

    def _init_line(self, bursts: Bursts | None) -> None:
        self.bursts = bursts if bursts is not None and bursts.step > 0 and bursts.ran else None
        self.work, self.waited, self._joined, self._burst_keys = {}, {}, {}, 0
        self.group_of, self.ran, self._on = {}, {}, {}

    @property
    def fair(self) -> bool:
        return self.bursts is not None and self.bursts.fair

    def _join(self, key: int) -> None:
        """Fair: ``key``'s group, if it had nothing running or waiting, joins at the least
        of those that have (no credit for the time it slept)."""
        group = self.group_of.get(key, 0)
        active = {self.group_of.get(k, 0) for k in self.ready}
        active |= {g for g, n in self._on.items() if n > 0}
        if group not in active and active:
            floor = min(self.ran.get(g, 0.0) for g in active)
            self.ran[group] = max(self.ran.get(group, 0.0), floor)

    def _pick(self) -> int:
        """The next task off the line: the first; fair, the first of the group that has run
        least."""
        if not self.fair or len(self.ready) == 1:
            return self.ready.popleft()
        ran, group_of = self.ran, self.group_of
        best = min(
            range(len(self.ready)), key=lambda i: (ran.get(group_of.get(self.ready[i], 0), 0.0), i)
        )
        key = self.ready[best]
        del self.ready[best]
        return key

    def _charge(self, key: int, run: float, on: int) -> None:
        """Fair: ``key``'s group ran ``run`` CPU seconds (counted when it starts)."""
        if self.fair:
            group = self.group_of.get(key, 0)
            self.ran[group] = self.ran.get(group, 0.0) + run
            self._on[group] = self._on.get(group, 0) + on

    def _burst_step(self, k: int) -> None:
        """Bursts: the ``k``-th step's other processes join the line, each with its CPU."""
        assert self.bursts is not None
        groups = self.bursts.groups[k] if self.bursts.groups else []
        for j, cpu in enumerate(self.bursts.ran[k]):
            left = cpu
            while left > EPSILON:  # more than one core's worth: a task a core
                piece = min(left, self.bursts.step)
                left -= piece
                key = OTHER - self._burst_keys
                self._burst_keys += 1
                self.work[key] = piece
                if self.fair:
                    self.group_of[key] = groups[j] if j < len(groups) else -1
                    self._join(key)
                self.ready.append(key)
        if k + 1 < len(self.bursts.ran):
            self.sim.at(self._trace_start + (k + 1) * self.bursts.step, self._burst_step, k + 1)
        if not self._ticking:
            self._serve_line()

    def _run_burst(self, key: int) -> None:
        assert self.bursts is not None
        left = self.work[key]
        run = left if self.bursts.whole else min(left, self.timeslice or OTHER_SLICE)
        self.other_seconds += run
        self._charge(key, run, 1)
        self.sim.at(self.sim.now + run / self.speed, self._burst_done, key, run)

    def _burst_done(self, key: int, run: float) -> None:
        """Bursts: a task's turn ended; back to the line's end while it has work left."""
        self.running -= 1
        self._charge(key, 0.0, -1)
        self.work[key] -= run
        if self.work[key] > EPSILON:
            self.ready.append(key)
        else:
            del self.work[key]
            self.group_of.pop(key, None)
        if not self._ticking:
            self._serve_line()

    def _replay_step(self, k: int) -> None:
        """Replayed: the trace's ``k``-th count of other runnable tasks from now (none after
        its end); those that became runnable join the line, those that stopped leave it."""
        assert self.replay is not None
        self.wanted = self.replay[k] if k < len(self.replay) else 0
        for i in range(self.wanted):
            if OTHER - i not in self.active:
                self.active.add(OTHER - i)
                self.ready.append(OTHER - i)
        gone = [key for key in self.ready if key <= OTHER - self.wanted]
        for key in gone:
            self.ready.remove(key)
            self.active.discard(key)
        for key, (_, end) in list(self._on_core.items()):  # no longer runnable: off its core
            if key <= OTHER - self.wanted:
                del self._on_core[key]
                self.active.discard(key)
                self.running -= 1
                self.other_seconds -= (end - self.sim.now) * self.speed
        if k < len(self.replay):
            self.sim.at(self._trace_start + (k + 1) * self.step, self._replay_step, k + 1)
        if not self._ticking:
            self._serve_line()

    def _other_done(self, key: int, slice_id: int) -> None:
        """Replayed: an other task's slice ended; back to the line's end while it is runnable
        (a slice cut short by the trace, its task no longer runnable, has ended already)."""
        if self._on_core.get(key, (-1, 0.0))[0] != slice_id:
            return
        del self._on_core[key]
        self.running -= 1
        if key > OTHER - self.wanted:
            self.ready.append(key)
        else:
            self.active.discard(key)
        if not self._ticking:
            self._serve_line()

    def _line_up(self, node: int) -> None:
        """Queued: ``node``'s job is ready; it runs on the core its node kept, else it waits
        in line for one."""
        end = self.holding.pop(node, None)
        if end is not None:  # on its core still (counted running)
            self.running -= 1
            return self._run_queued(node, end)
        ahead = len(self.ready)
        if self.waking_first:  # ahead of the other tasks waiting
            ahead = next((k for k, key in enumerate(self.ready) if key <= OTHER), ahead)
        if self.fair:
            self._join(node)
        self.ready.insert(ahead, node)
        self._joined[node] = self.sim.now
        if not self._ticking:
            self._serve_line()

    def _serve_line(self) -> None:
        """Queued: free cores to the jobs waiting longest, each with a fresh slice."""
        while self.ready and self.running < self.servers:
            self._run_queued(self._pick(), self.sim.now + self.timeslice)

    def _run_queued(self, node: int, slice_end: float) -> None:
        self.running += 1
        if node in self.work:  # a burst of an other process
            return self._run_burst(node)
        if node <= OTHER:  # a replayed other task: a slice of the core, at its speed
            run = self.timeslice or OTHER_SLICE
            self.other_seconds += run * self.speed
            self._slices += 1
            self._on_core[node] = (self._slices, self.sim.now + run)
            self.sim.at(self.sim.now + run, self._other_done, node, self._slices)
            return
        joined = self._joined.pop(node, None)
        if joined is not None and node >= 0:
            self.waited[node] = self.waited.get(node, 0.0) + self.sim.now - joined
        cost = self.queues[node][0][0]
        self._charge(node, cost, 1)
        self.sim.at(self.sim.now + cost / self._group_speed(), self._queued_done, node, slice_end)

    def _group_speed(self) -> float:
        """The pace of a job of ours on a core now: the core's, at the share the other groups
        leave ours (``share_at``), and of that our busy nodes' part beside our group's other
        runnable tasks (``own_at``: the group's time shared equally among its tasks)."""
        speed = self.speed
        if self.share_at is not None:
            speed *= self.share_at(self.sim.now)
        if self.own_at is not None:
            busy = sum(1 for key, queue in self.queues.items() if key >= 0 and queue)
            own = self.own_at(self.sim.now)
            if busy and own > 0:
                speed *= busy / (busy + own)
        return speed

    def _queued_done(self, node: int, slice_end: float) -> None:
        """Queued: ``node``'s job ended; it keeps its core for a next job ready at once
        while its slice lasts, else the core goes to the job waiting longest."""
        self._charge(node, 0.0, -1)
        if self.timeslice > 0 and slice_end > self.sim.now + EPSILON:
            self.holding[node] = slice_end
        else:
            self.running -= 1
        self._ticking = True
        try:
            self._finish(node)
        finally:
            self._ticking = False
            if self.holding.pop(node, None) is not None:  # nothing ready next: let it go
                self.running -= 1
        self._serve_line()
