"""What a new order costs its node before the node passes it on: from the intake's start (a
wallet's ``Node.submit``, a peer's chunk in ``submit_many_from_peer``) to the order's hand-over
to gossip (``Gossip.announce``, which queues its pushes), the event loop thread's CPU time and
the wall time, summed over the orders handed over (a chunk's times shared among its new
orders, as the simulator charges a chunk). ``/health`` reports the sums (``forwardTiming``);
a benchmark takes the difference of two readings for one window's means, which
``bench/gossip_sim.py`` gives the simulator as the CPU a node spends on an order before it
forwards it (``sdex.sim.links.LinkModel.check_cost``). Three clocks read per intake call (and per
loop turn that wrote pushes), two per wallet's hand-over; a peer's chunk reads its end's two
once (``passed_on`` counts a hand-over without a clock, ``mark`` reads them after the chunk's
last one: its later copies' verdicts, known or rejected, are counted in too), no allocation
per order. A wallet's order is timed only while gossip has a peer (``NodeIntake.submit``):
with none, nothing is passed on, and the clocks are system calls (one releases the GIL; the
thread's CPU clock ~3 us, the run-queue read ~8 us on this virtual machine).

The CPU time is the loop thread's between the two points: where the intake awaits (the
ECDSA worker for four or more new orders, a chain read) what other tasks ran meanwhile is
counted too, so under load it overstates; the ECDSA worker's own CPU is not in it.

And to the pushes' writes (``sentCpuS``, ``sentWallS``): from the same start to the loop's
turn after the one in which gossip gave the order to its core and spawned its pushes
(``Gossip._announce_fresh`` calls ``spawned``): their tasks write them in that turn, and
the order's websocket event after them (its send is a task of its own, ``wsapi._sent``), before
the loop reads new messages. Between the start and then the loop also ran the rest of the
peer's check (its answer written): all the loop did before the order left. Gossip batches a
turn's orders, so the turn that spawns an order's pushes is known only there: an intake
call that ends while the pushes of an earlier one are being spawned is timed to its own
pushes' turn, not to the earlier one's.

And how that span's time off the loop's CPU splits, per intake call (``sentSleepUs``, a
histogram of ``sdex.gossip.timing.EDGES_US``; ``sentQueueS``, the sum): the loop thread's
wait for a core while runnable (``/proc/thread-self/schedstat``'s second field, read with
one ``pread``, 1 us, at the call's start and at its pushes' turn, not per order) and the
rest, when it was not runnable at all (waiting for the GIL while another thread holds it,
or for the ECDSA worker): the simulator draws the first from the machine's measured run
queue already, and each wallet's order's wait from the second's histogram
(``LinkModel.post_wait_shape``). One tuple per intake call.

And to the signatures' hand-over (``handCpuS``, ``handWallS``, ``handQueueS``; sim48): from
the same start to the intake's first wait, just before its orders' signatures are queued
for the ECDSA batcher (``Intake.submit``/``submit_each``'s ``handing``), where the intake
yields and the loop runs what arrived meanwhile before the rest of the check: the share of
the check the simulator runs before that yield (``LinkModel.handover_share``). Three clocks
more per timed call that reaches a signature.

**Sampled: one intake call in ``every``** per source (``begin``; ``$SDEX_FORWARD_EVERY``,
default ``EVERY``; 1 times every call): the first call, then each ``every``-th. Only a timed
call's orders are in the sums, so ``orders`` counts the orders of the timed calls (not every
order: ``calls`` counts every intake call begun, ``timedCalls`` the timed ones), and a sum
divided by ``orders`` is the mean per order over those calls (the means the simulator reads
stay what they were, from fewer calls). cpu30: the clocks were 4-6% of a node at load."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable

from sdex.gossip.timing import Histogram

SOURCES = ("wallet", "peer")
Stamp = tuple[float, float, float]
"""The loop thread's CPU seconds, the wall clock, and the thread's run-queue wait seconds."""
Mark = tuple[float, float, int]
"""The loop thread's CPU seconds and the wall clock (a hand-over's: no run-queue read), and
``ForwardTiming.handed`` right after that hand-over (which of gossip's turns it is in)."""

EVERY = 8
"""By default one intake call in 8 per source is timed (``ForwardTiming.begin``)."""
EVERY_ENV = "SDEX_FORWARD_EVERY"
"""An environment variable naming another ``every`` (an integer from 1 to ``MAX_EVERY``;
anything else: ``EVERY``)."""
MAX_EVERY = 1_000_000


def every_from_env() -> int:
    """``$SDEX_FORWARD_EVERY`` if it is an integer from 1 to ``MAX_EVERY``, else ``EVERY``."""
    raw = os.environ.get(EVERY_ENV, "")
    if not (0 < len(raw) <= 7 and raw.isascii() and raw.isdigit()):
        return EVERY
    value = int(raw)
    return value if 1 <= value <= MAX_EVERY else EVERY


SCHEDSTAT = "/proc/thread-self/schedstat"
"""The calling thread's scheduler statistics (Linux): the second field is the nanoseconds it
has waited for a core while runnable."""


class _QueueFile:
    """One thread's open ``SCHEDSTAT`` (``fd`` -1: none here), closed with this object: when
    its thread ends (``threading.local`` drops its value) or the process forks."""

    __slots__ = ("fd",)

    def __init__(self) -> None:
        self.fd = _open()

    def read(self) -> float:
        if self.fd < 0:
            return 0.0
        value = _pread(self.fd)
        if value is None:  # (stale: reopened once; failing again, 0.0 from now on)
            self.close()
            self.fd = _open()
            value = None if self.fd < 0 else _pread(self.fd)
            if value is None:
                self.close()
        return 0.0 if value is None else value

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __del__(self) -> None:
        self.close()


def _open() -> int:
    try:
        return os.open(SCHEDSTAT, os.O_RDONLY)
    except OSError:  # (no /proc: not Linux, or not mounted)
        return -1


def _pread(fd: int) -> float | None:
    try:
        return int(os.pread(fd, 96, 0).split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class _QueueFiles(threading.local):
    file: _QueueFile | None = None


_FILES = _QueueFiles()
"""Per thread: its ``_QueueFile`` once it asked (a thread that ends drops it, so a new
thread given a dead one's id opens its own)."""


def _forked() -> None:
    """In a forked child: the parent's threads' files dropped (each closed)."""
    global _FILES
    _FILES = _QueueFiles()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def run_queue_wait() -> float:
    """Seconds the calling thread has waited for a core while runnable (0.0 where ``/proc``
    does not say). Never raises."""
    file = _FILES.file
    if file is None:
        file = _FILES.file = _QueueFile()
    return file.read()


class ForwardTiming:
    """Sums per source (``SOURCES``): orders handed over, loop CPU seconds, wall seconds."""

    __slots__ = (
        "_due",
        "_marked",
        "calls",
        "clocked",
        "cpu_at",
        "cpu_clock",
        "every",
        "handed",
        "handed_at",
        "open",
        "queue_clock",
        "rows",
        "sleep",
        "spawning",
        "timed",
        "wall_at",
        "wall_clock",
    )

    def __init__(
        self,
        wall_clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
        queue_clock: Callable[[], float] = run_queue_wait,
        every: int | None = None,
    ) -> None:
        self.wall_clock, self.cpu_clock, self.queue_clock = wall_clock, cpu_clock, queue_clock
        self.every = max(1, every_from_env() if every is None else every)
        """One intake call in ``every`` per source is timed (``begin``)."""
        self.calls = dict.fromkeys(SOURCES, 0)
        """Intake calls begun, per source (timed or not)."""
        self.timed = dict.fromkeys(SOURCES, 0)
        """Of those, the timed ones."""
        self.clocked = True
        """Whether ``handed_over`` reads the clocks (an untimed wallet's call: not)."""
        self.handed = 0
        """Orders handed to gossip so far (any source)."""
        self.cpu_at = 0.0
        self.wall_at = 0.0
        self.handed_at = 0
        """The CPU and wall clocks at the last hand-over that read them, and ``handed`` then."""
        self.rows = {s: [0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] for s in SOURCES}
        """Orders, loop CPU and wall seconds to the hand-over, to the pushes' writes (CPU,
        wall, run-queue wait), and to the signatures' hand-over (CPU, wall, run-queue wait)."""
        self.sleep = {s: Histogram() for s in SOURCES}
        """Per intake call, microseconds to the pushes' writes neither on the loop's CPU nor
        waiting for a core."""
        self.open: dict[str, list[Stamp]] = {s: [] for s in SOURCES}
        """Intake calls whose orders gossip has not given to its core yet: their starts."""
        self.spawning: dict[str, list[Stamp]] = {s: [] for s in SOURCES}
        """The same for calls whose orders' pushes were spawned: written next turn."""
        self._marked = 0
        """``handed`` when gossip last spawned pushes (every order handed over until then is
        with them)."""
        self._due: asyncio.AbstractEventLoop | None = None
        """The loop ``_written`` is scheduled on (None: not scheduled; a loop that stopped
        before it ran is not waited for)."""

    def begin(self, source: str) -> Stamp | None:
        """An intake call of ``source`` begins: its start (``start``) if it is one of the
        timed ones (the first, then every ``every``-th), else None (nothing to read or add)."""
        n = self.calls[source]
        self.calls[source] = n + 1
        if n % self.every:
            return None
        self.timed[source] += 1
        return self.start()

    def start(self) -> Stamp:
        """The intake's start: (thread CPU, wall, run-queue wait) now."""
        return self.cpu_clock(), self.wall_clock(), self.queue_clock()

    def handed_over(self) -> None:
        """An order was just handed to gossip (its pushes queued): counted, clocks read
        (unless ``clocked`` is off: an untimed call's, ``passed_on``)."""
        self.handed += 1
        if self.clocked:
            self.mark(self.handed)

    def passed_on(self) -> None:
        """The same, no clock read (a peer's chunk: ``mark`` once after its last one)."""
        self.handed += 1

    def mark(self, through: int) -> Mark:
        """(thread CPU, wall) now, for the hand-over that made ``handed`` ``through``."""
        self.cpu_at, self.wall_at, self.handed_at = self.cpu_clock(), self.wall_clock(), through
        return self.cpu_at, self.wall_at, through

    def last(self) -> Mark:
        """(thread CPU, wall, ``handed``) at the last hand-over that read the clocks."""
        return self.cpu_at, self.wall_at, self.handed_at

    def add(
        self, source: str, started: Stamp, ended: Mark, orders: int, hand: Stamp | None = None
    ) -> None:
        """``orders`` orders of an intake call that ``started`` were handed over, the last
        one when ``ended`` (``last`` right after it, or ``mark``); its signatures were handed
        over at ``hand`` (``start`` then; None: not read)."""
        if orders <= 0:
            return
        row = self.rows[source]
        row[0] += orders
        row[1] += ended[0] - started[0]
        row[2] += ended[1] - started[1]
        if hand is not None:
            for k, (a, b) in enumerate(zip(started, hand, strict=True)):
                row[6 + k] += b - a
        if ended[2] > self._marked:  # its last order is not with gossip's core yet
            self.open[source].append(started)  # (a chunk's span once, as above)
        elif self._due is not None:  # they are: their pushes are written next turn
            self.spawning[source].append(started)
        else:  # written already (the call awaited after its last hand-over): now
            self._sent(source, started, self.start())

    def _sent(self, source: str, started: Stamp, now: Stamp) -> None:
        """An intake call that ``started``: its orders' pushes are written ``now``."""
        row = self.rows[source]
        cpu, wall, queue = (b - a for a, b in zip(started, now, strict=True))
        row[3] += cpu
        row[4] += wall
        row[5] += queue
        self.sleep[source].add(max(0.0, wall - cpu - queue) * 1e6)

    def spawned(self) -> None:
        """Gossip gave its core every order handed over so far and spawned their pushes
        (``Gossip._announce_fresh``, after it did): their tasks write them next turn."""
        self._marked = self.handed
        for source, wait in self.open.items():
            if wait:
                self.spawning[source].extend(wait)
                wait.clear()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # (no loop: nothing is pushed)
            return
        if self._due is not loop:
            self._due = loop
            loop.call_soon(self._written)

    def _written(self) -> None:
        self._due = None
        if not any(self.spawning.values()):  # (pushes of orders no intake call timed)
            return
        now = self.start()
        for source, wait in self.spawning.items():
            for started in wait:
                self._sent(source, started, now)
            wait.clear()

    def to_json(self) -> dict[str, dict[str, object]]:
        return {
            s: {
                "orders": r[0],
                "calls": self.calls[s],
                "timedCalls": self.timed[s],
                "every": self.every,
                "cpuS": round(r[1], 6),
                "wallS": round(r[2], 6),
                "sentCpuS": round(r[3], 6),
                "sentWallS": round(r[4], 6),
                "sentQueueS": round(r[5], 6),
                "sentSleepUs": self.sleep[s].to_json(),
                "handCpuS": round(r[6], 6),
                "handWallS": round(r[7], 6),
                "handQueueS": round(r[8], 6),
            }
            for s, r in self.rows.items()
        }


class CallClock:
    """One intake call of many orders (a peer's chunk, a wallet group: ``submit_each``),
    timed if ``begin`` picks it: its start, its signatures' hand-over (``handing``), and the
    orders it handed to gossip, counted without a clock (``passed``: the count before an
    order's verdict was applied), its end read once after the last (``end``)."""

    __slots__ = ("fw", "hand", "handed", "source", "started", "through")

    def __init__(self, fw: ForwardTiming, source: str, timed: bool = True) -> None:
        self.fw, self.source = fw, source
        self.started = fw.begin(source) if timed else None
        self.hand: list[Stamp] = []
        self.handed = self.through = 0

    def handing(self) -> Callable[[], object] | None:
        """The intake's ``handing`` (None: untimed, nothing to read)."""
        return None if self.started is None else lambda: self.hand.append(self.fw.start())

    def passed(self, before: int) -> None:
        """An order's verdict applied, ``fw.handed`` ``before`` it: counted if handed over."""
        if self.fw.handed != before:  # (the clocks read once, after the last: ``end``)
            self.handed, self.through = self.handed + 1, self.fw.handed

    def end(self) -> None:
        """The call ended (or failed midway: the orders handed over so far count)."""
        if self.started is not None:
            ended = self.fw.mark(self.through) if self.handed else (0.0, 0.0, 0)
            hand = self.hand[0] if self.hand else None
            self.fw.add(self.source, self.started, ended, self.handed, hand)
