"""Each simulated node's CPU: one job at a time, in arrival order, on its own core or on
a machine it shares with the others.

A node is one Python process, so its work is serial: a job (a wallet's order through the
intake, a chunk of a peer's push) waits for the jobs before it. Where the nodes have a
core each (``cores == 0``, the internet-scale runs) a job of ``cost`` seconds ends ``cost``
after it starts. Where they share a machine of ``cores`` cores with ``background`` cores of
other work (8 ``sdex node`` processes, their chain and their load generator on one box),
the machine is shared as a processor-sharing server: while ``k`` nodes have work, each runs
at ``min(1, (cores - background) / k)`` of a core, so the same order costs more wall time
when every node is busy at once, as it does on the real machine.

With a ``timeslice`` the shared machine is scheduled as an operating system does instead:
``ceil(cores - background)`` cores (each at that capacity's share of one), busy nodes
queued for them in arrival order, each running its job for at most ``timeslice`` before
it goes to the back of the queue. Jobs shorter than a slice then end one after another
rather than all together: of six nodes handed the same order at once, two pass it on
first, and their copies reach the others before those pass it on themselves.

With ``others`` (the mean number of other tasks runnable on the machine, measured) the
machine is shared as Linux's fair scheduler shares it (CFS; EEVDF since 6.6, same shares):
every runnable task gets an equal share of the cores, and a task that wakes from sleep is
placed at the queue's least virtual runtime, so it gets its share at once rather than
waiting behind the tasks that ran meanwhile. While ``k`` nodes have work each then runs at
``min(1, cores / (k + others))`` of a core: a node that wakes on a busy machine is slowed by
the number of tasks it competes with, not stalled until the others' CPU use leaves it room
(the ``background`` model, which charged a waking node for the others' whole share and
predicted seconds where the real nodes took tens of milliseconds). A measured ``trace`` of
that number (one value per ``step`` seconds, from ``trace_start`` of simulated time on)
replays how it varied instead: the busy spells of the other work that slow some orders and
not others, where the tail comes from.

With ``groups`` as well (per step, the runnable tasks of each other active task group) the
trace is of the nodes' own group (``trace``: its other runnable tasks) and the scheduler's
group scheduling is applied first (``sched_autogroup``: each session a group): the cores are
shared max-min fairly among the active groups (each an equal share, no more than its
runnable tasks can use, the rest to the others), and the nodes' group's share equally among
its runnable tasks (``group_share``). Three other busy sessions leave 8 nodes, their chain
and their load generator half a core of two between them, however few tasks those have.

With ``sliced`` (and ``others``) those fair shares are given in slices of ``timeslice``, as
the kernel does (a CPU-bound task runs a tick, 4 ms on the bench's machine, before it is
switched out): ``ceil(cores)`` nodes run at once, each until its job ends or its slice
does (a node that goes on with its next job keeps its core to the slice's end), the others
wait in turn; the nodes on a core run at what their fair shares add up to, spread over
them. Jobs shorter than a slice end one after another, as on the real machine: of six
nodes handed the same order, two pass it on first, and the others, waiting for a core,
hear those copies before their own check and send none back (``echoesSkipped``).

With ``queued`` the shared machine is a line for its cores (``sdex.sim.line``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from sdex.sim.line import EPSILON, OTHER, OTHER_SLICE, WATCHER, Bursts, Clock, Line
from sdex.sim.shares import group_share

__all__ = [
    "EPSILON",
    "OTHER",
    "OTHER_SLICE",
    "WATCHER",
    "Bursts",
    "Clock",
    "Cpu",
    "Job",
    "group_share",
]

Job = tuple[float, Callable[..., None], tuple[Any, ...], float]
"""CPU seconds, the function and its arguments, then wall seconds held off the CPU."""
MIN_CAPACITY = 0.05
"""The least CPU the nodes keep on a shared machine whatever the background takes."""


class Cpu(Line):
    """The CPUs of a simulated network's nodes (keyed by node index)."""

    def __init__(
        self,
        sim: Clock,
        cores: float = 0.0,
        background: float = 0.0,
        timeslice: float = 0.0,
        others: float | None = None,
        trace: list[float] | None = None,
        step: float = 0.0,
        groups: list[list[int]] | None = None,
        sliced: bool = False,
        free_at: Callable[[int, float], float] | None = None,
        queued: bool = False,
        waking_first: bool = False,
        bursts: Bursts | None = None,
    ) -> None:
        self.sim = sim
        self.shared = cores > 0
        self.queued = queued and self.shared
        """The shared machine as one line for its cores (``free_at``'s spells on top)."""
        self.replay: list[int] | None = None
        """Queued with a trace: the other runnable tasks at each step, replayed in the line."""
        if self.queued and trace and step > 0:
            per = math.ceil(cores)  # a group is one entity a core (autogroups)
            tasks = trace if not groups else [
                o + sum(min(n, per) for n in g) for o, g in zip(trace, groups, strict=True)
            ]  # fmt: skip
            self.replay = [max(0, round(v)) for v in tasks]
        self._init_line(bursts if self.queued else None)
        if self.bursts is not None:
            self.replay = None
        self.waking_first = waking_first and (self.replay is not None or self.bursts is not None)
        """Replayed: a node's job joins the line ahead of the other tasks waiting in it."""
        self.wanted = 0
        """Replayed: the other tasks runnable now (keys ``OTHER`` to ``OTHER - wanted + 1``)."""
        self.active: set[int] = set()
        """Replayed: the other tasks in line or on a core."""
        self.other_seconds = 0.0
        """Replayed: core seconds the other tasks ran."""
        self._on_core: dict[int, tuple[int, float]] = {}  # (slice number, its end) a task
        self._slices = 0
        self.speed_of: Callable[[int, float], float] | None = None
        """Nodes with a core each: the share of a core a node runs at, at a time (its real
        thread's CPU over CPU and wait; ``sdex.sim.delays``); None: a whole core."""
        self.share_at: Callable[[float], float] | None = None
        self.own_at: Callable[[float], float] | None = None
        self.wake_only = False
        """``free_at`` only for a job its node starts idle (woken), not one it goes on with."""
        self.free_at = free_at if cores <= 0 or self.queued else None
        """Nodes with a core each, or in line for the shared machine's: when a node may
        start a job at a time (its waits for a core in spells, ``sdex.sim.spells``; not the
        observer's task); None: at once."""
        self.wake_at: Callable[[int, float], float] | None = None
        """When a job its node starts idle (woken) may start, at the earliest, from when it
        would (``LinkModel.wake_shape``: a draw of the woken tasks' measured lateness)."""
        self.cores = cores
        if self.queued:
            others = None
        self.others = others
        self.trace = trace if others is not None and trace and step > 0 else None
        self.step = step
        self.groups = groups if self.trace is not None and groups else None
        self._trace_start = math.inf
        self._rate = 1.0
        self.capacity = max(MIN_CAPACITY, cores - background)
        self.timeslice = timeslice if self.shared and (others is None or sliced) else 0.0
        self.sliced = self.timeslice > 0 and others is not None
        """The fair shares (``others``) in time slices: ``on_core`` nodes run, the others wait."""
        self.on_core: dict[int, float] = {}
        """Sliced: the nodes on a core, and when their slice ends (wall)."""
        self._kept: dict[int, float] = {}
        """Sliced: nodes whose job just ended, and their slice's end (their next job goes on)."""
        self._ticking = False
        self.holding: dict[int, float] = {}
        """Queued: nodes whose job just ended on a core they keep, and that slice's end."""
        self.servers = math.ceil(self.capacity) if others is None else math.ceil(cores)
        self.speed = self.capacity / self.servers
        self.ready: deque[int] = deque()
        """Time-sliced: busy nodes waiting for a core, in the order they became ready."""
        self.running = 0
        self.queues: dict[int, deque[Job]] = {}
        self.left: dict[int, float] = {}
        """On a shared machine: CPU seconds left of each busy node's current job."""
        self._since = 0.0
        self._generation = 0
        self.busy_seconds: dict[int, float] = {}
        """CPU seconds each node spent (its jobs' costs, counted when they start)."""
        self._ending: dict[int, int] = {}
        """Nodes whose job is ending (its function running): how many jobs it queued
        ``first`` so far (they go ahead of the jobs that were waiting, in their order)."""

    @property
    def trace_start(self) -> float:
        """Simulated time of the trace's first value (which holds before it too; the last
        holds after it; replayed: the other tasks from then to its end)."""
        return self._trace_start

    @trace_start.setter
    def trace_start(self, t: float) -> None:
        first = self._trace_start == math.inf
        self._trace_start = t
        if first and self.replay is not None and t < math.inf:
            self.sim.at(max(t, self.sim.now), self._replay_step, 0)
        if first and self.bursts is not None and t < math.inf:
            self.sim.at(max(t, self.sim.now), self._burst_step, 0)

    def submit(
        self,
        node: int,
        cost: float,
        fn: Callable[..., None],
        *args: Any,
        first: bool = False,
        hold: float = 0.0,
    ) -> None:
        """Run ``fn(*args)`` once ``node`` has spent ``cost`` CPU seconds on it, after its
        earlier jobs (at once, before this returns, when it costs nothing and none wait).
        ``first``, from the end of one of ``node``'s jobs: ahead of the jobs waiting, as an
        event loop runs what a callback scheduled (``call_soon``, a task it spawned) before
        it reads the messages that came meanwhile (after those ``first`` before them).
        ``hold``: then ``hold`` seconds more of wall time off the CPU before ``fn`` runs, the
        node's later jobs waiting too (its loop thread stalled: not running, not runnable
        for the machine's share, as while it waits for the GIL)."""
        queue = self.queues.setdefault(node, deque())
        if cost <= 0 and hold <= 0 and not queue:
            fn(*args)
            return
        job = (max(0.0, cost), fn, args, max(0.0, hold))
        ahead = self._ending.get(node)
        if first and ahead is not None:
            queue.insert(ahead, job)
            self._ending[node] = ahead + 1
        else:
            queue.append(job)
        if len(queue) == 1 and ahead is None:
            self._start(node)

    def rate(self) -> float:
        """The share of a core each busy node gets now."""
        if not self.shared or not self.left:
            return 1.0
        if self.others is not None:  # an equal share with every other runnable task
            k = self._trace_index()
            if k is None or self.trace is None:
                return min(1.0, self.cores / (len(self.left) + self.others))
            ours = len(self.left) + self.trace[k]
            if self.groups is None:
                return min(1.0, self.cores / ours)
            return min(1.0, group_share(self.cores, ours, self.groups[k]) / ours)
        return min(1.0, self.capacity / len(self.left))

    def _trace_index(self) -> int | None:
        """The trace value in force now (None: no trace; before it its first value, after
        it its last)."""
        if self.trace is None:
            return None
        if self.sim.now < self.trace_start:
            return 0
        return min(len(self.trace) - 1, int((self.sim.now - self.trace_start) / self.step))

    def _next_change(self) -> float:
        """When the trace's value changes next (inf: no more changes)."""
        if self.trace is None:
            return math.inf
        if self.sim.now < self.trace_start:
            return self.trace_start
        k = int((self.sim.now - self.trace_start) / self.step)
        return math.inf if k >= len(self.trace) - 1 else self.trace_start + (k + 1) * self.step

    def _start(self, node: int, woken: bool = True) -> None:
        cost = self.queues[node][0][0]
        self.busy_seconds[node] = self.busy_seconds.get(node, 0.0) + cost
        if not self.shared or self.queued:
            begin = self.sim.now
            if self.wake_at is not None and woken and node != WATCHER:
                begin = self.wake_at(node, begin)
            if self.free_at is not None and node != WATCHER and (woken or not self.wake_only):
                begin = self.free_at(node, begin)
            if not self.shared or cost <= 0:
                if self.speed_of is not None and cost > 0 and node != WATCHER:
                    cost /= max(MIN_CAPACITY, self.speed_of(node, begin))
                self.sim.at(begin + cost, self._finish, node)
            elif begin > self.sim.now:
                self.sim.at(begin, self._line_up, node)
            else:
                self._line_up(node)
            return
        if self.sliced:
            self._advance()
            self.left[node] = cost
            end = self._kept.pop(node, None)  # its process goes on with its next job
            if end is not None and end > self.sim.now + EPSILON:
                self.on_core[node] = end
            else:
                self.ready.append(node)
            if not self._ticking:
                self._fill()
                self._reschedule()
            return
        if self.timeslice > 0:
            self.left[node] = cost
            self.ready.append(node)
            self._dispatch()
            return
        self._advance()
        self.left[node] = cost
        self._reschedule()

    def _finish(self, node: int) -> None:
        """The job is done: its function runs, then the next job starts (the jobs its
        function queued ``first`` ahead of the others)."""
        queue = self.queues[node]
        cost, fn, args, hold = queue[0]
        if hold > 0:  # its CPU is spent: off the CPU for ``hold`` more, the queue waiting
            queue[0] = (cost, fn, args, 0.0)
            self.sim.at(self.sim.now + hold, self._finish, node)
            return
        queue.popleft()
        self._ending[node] = 0
        try:
            fn(*args)
        finally:
            del self._ending[node]
        if queue:
            self._start(node, woken=False)

    def _dispatch(self) -> None:
        """Time-sliced: give free cores to the nodes waiting longest."""
        while self.ready and self.running < self.servers:
            node = self.ready.popleft()
            run = min(self.left[node], self.timeslice)
            self.running += 1
            self.sim.at(self.sim.now + run / self.speed, self._sliced, node, run)

    def _sliced(self, node: int, run: float) -> None:
        """``node`` ran ``run`` CPU seconds: its job is done, or it waits for a core again."""
        self.running -= 1
        self.left[node] -= run
        if self.left[node] > EPSILON:
            self.ready.append(node)
            self._dispatch()
            return
        del self.left[node]
        self._dispatch()
        self._finish(node)

    def _fill(self) -> None:
        """Sliced: free cores to the nodes waiting longest, a slice each."""
        while self.ready and len(self.on_core) < self.servers:
            self.on_core[self.ready.popleft()] = self.sim.now + self.timeslice

    def _speed(self) -> float:
        """Sliced: the share of a core a node on one runs at: the nodes together get what
        their fair shares add up to (``rate``), spread over the ones on a core."""
        share = self.rate()
        return min(1.0, share * len(self.left) / len(self.on_core)) if self.on_core else share

    def _advance(self) -> None:
        """Charge every running node for the time since the last change, at the rate then."""
        elapsed = self.sim.now - self._since
        if elapsed > 0 and self.left:
            done = elapsed * self._rate  # the rate since the last change
            for node in self.on_core if self.sliced else self.left:
                self.left[node] -= done
        self._since = self.sim.now

    def _reschedule(self) -> None:
        self._generation += 1
        if self.sliced:
            self._rate = self._speed()
            if self.on_core:
                now = self.sim.now
                due = min(min(now + max(0.0, self.left[k]) / self._rate, end)
                          for k, end in self.on_core.items())  # fmt: skip
                change = self._next_change()
                if change <= now:
                    change = now + self.step
                self.sim.at(min(due, change), self._tick, self._generation)
            return
        self._rate = self.rate()
        if self.left:
            first = min(self.left.values())
            due = self.sim.now + max(0.0, first) / self._rate
            change = self._next_change()
            if change <= self.sim.now:  # float rounding at a step's edge
                change = self.sim.now + self.step
            self.sim.at(min(due, change), self._tick, self._generation)

    def _tick(self, generation: int) -> None:
        if generation != self._generation:
            return  # the shares changed since this was scheduled
        if self.sliced:
            return self._tick_sliced()
        self._advance()
        done = [node for node, left in self.left.items() if left <= EPSILON]
        for node in done:
            del self.left[node]
        for node in done:
            self._finish(node)
        self._reschedule()

    def _tick_sliced(self) -> None:
        """Sliced: jobs done end (their node keeps its core for its next job, if it has one,
        to the slice's end); nodes whose slice ended go to the back of the queue."""
        self._advance()
        now = self.sim.now
        done = [k for k in self.on_core if self.left[k] <= EPSILON]
        for k in done:
            self._kept[k] = self.on_core.pop(k)
            del self.left[k]
        for k in [k for k, end in self.on_core.items() if end <= now + EPSILON]:
            del self.on_core[k]
            self.ready.append(k)
        self._ticking = True
        try:
            for k in done:
                self._finish(k)
        finally:
            self._ticking = False
            self._kept.clear()
        self._fill()
        self._reschedule()
