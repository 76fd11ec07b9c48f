"""What a new order costs its node before the node passes it on: from the intake's start (a
wallet's ``Node.submit``, a peer's chunk in ``submit_many_from_peer``) to the order's hand-over
to gossip (``Gossip.announce``, which queues its pushes), the event loop thread's CPU time and
the wall time, summed over the orders handed over (a chunk's times shared among its new
orders, as the simulator charges a chunk). ``/health`` reports the sums (``forwardTiming``);
a benchmark takes the difference of two readings for one window's means, which
``bench/gossip_sim.py`` gives the simulator as the CPU a node spends on an order before it
forwards it (``sdex.sim.links.LinkModel.check_cost``). Three clock reads per call, no
allocation per order.

The CPU time is the loop thread's between the two points: where the intake awaits (the
ECDSA worker for four or more new orders, a chain read) what other tasks ran meanwhile is
counted too, so under load it overstates; the ECDSA worker's own CPU is not in it.

And to the pushes' writes (``sentCpuS``, ``sentWallS``): from the same start to the loop's
turn after the one in which gossip gave the order to its core and spawned its pushes
(``Gossip._announce_fresh`` calls ``spawned``): their tasks write them in that turn, and
the order's websocket event after them (its send is a task of its own, ``wait_for``), before
the loop reads new messages. Between the start and then the loop also ran the rest of the
peer's check (its answer written): all the loop did before the order left. Gossip batches a
turn's orders, so the turn that spawns an order's pushes is known only there: an intake
call that ends while the pushes of an earlier one are being spawned is timed to its own
pushes' turn, not to the earlier one's."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

SOURCES = ("wallet", "peer")


class ForwardTiming:
    """Sums per source (``SOURCES``): orders handed over, loop CPU seconds, wall seconds."""

    __slots__ = (
        "_due",
        "_marked",
        "cpu_at",
        "cpu_clock",
        "handed",
        "open",
        "rows",
        "spawning",
        "wall_at",
        "wall_clock",
    )

    def __init__(
        self,
        wall_clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.wall_clock, self.cpu_clock = wall_clock, cpu_clock
        self.handed = 0
        """Orders handed to gossip so far (any source)."""
        self.cpu_at = 0.0
        self.wall_at = 0.0
        """The CPU and wall clocks at the last hand-over."""
        self.rows = {s: [0, 0.0, 0.0, 0.0, 0.0] for s in SOURCES}
        """Orders, loop CPU and wall seconds to the hand-over, and to the pushes' writes."""
        self.open = {s: [0, 0.0, 0.0] for s in SOURCES}
        """Intake calls whose orders gossip has not given to its core yet: how many, the
        sums of their starts' CPU and wall times."""
        self.spawning = {s: [0, 0.0, 0.0] for s in SOURCES}
        """The same for calls whose orders' pushes were spawned: written next turn."""
        self._marked = -math.inf
        """The wall clock at the last hand-over when gossip last spawned pushes (every order
        handed over until then is with them)."""
        self._due: asyncio.AbstractEventLoop | None = None
        """The loop ``_written`` is scheduled on (None: not scheduled; a loop that stopped
        before it ran is not waited for)."""

    def start(self) -> tuple[float, float]:
        """The intake's start: (thread CPU, wall) now."""
        return self.cpu_clock(), self.wall_clock()

    def handed_over(self) -> None:
        """An order was just handed to gossip (its pushes queued)."""
        self.handed += 1
        self.cpu_at, self.wall_at = self.cpu_clock(), self.wall_clock()

    def last(self) -> tuple[float, float]:
        """(thread CPU, wall) at the last hand-over."""
        return self.cpu_at, self.wall_at

    def add(
        self, source: str, started: tuple[float, float], ended: tuple[float, float], orders: int
    ) -> None:
        """``orders`` orders of an intake call that ``started`` were handed over, the last
        one when ``ended`` (``last`` right after it)."""
        if orders <= 0:
            return
        row = self.rows[source]
        row[0] += orders
        row[1] += ended[0] - started[0]
        row[2] += ended[1] - started[1]
        if ended[1] > self._marked:  # its last order is not with gossip's core yet
            wait = self.open[source]
        elif self._due is not None:  # they are: their pushes are written next turn
            wait = self.spawning[source]
        else:  # written already (the call awaited after its last hand-over): now
            cpu, wall = self.start()
            row[3] += cpu - started[0]
            row[4] += wall - started[1]
            return
        wait[0] += 1  # (a chunk's span once, as above)
        wait[1] += started[0]
        wait[2] += started[1]

    def spawned(self) -> None:
        """Gossip gave its core every order handed over so far and spawned their pushes
        (``Gossip._announce_fresh``, after it did): their tasks write them next turn."""
        self._marked = self.wall_at
        for source, wait in self.open.items():
            into = self.spawning[source]
            for k in range(3):
                into[k] += wait[k]
            wait[0], wait[1], wait[2] = 0, 0.0, 0.0
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # (no loop: nothing is pushed)
            return
        if self._due is not loop:
            self._due = loop
            loop.call_soon(self._written)

    def _written(self) -> None:
        self._due = None
        cpu, wall = self.start()
        for source, wait in self.spawning.items():
            if wait[0]:
                row = self.rows[source]
                row[3] += wait[0] * cpu - wait[1]
                row[4] += wait[0] * wall - wait[2]
                wait[0], wait[1], wait[2] = 0, 0.0, 0.0

    def to_json(self) -> dict[str, dict[str, float]]:
        return {
            s: {
                "orders": r[0],
                "cpuS": round(r[1], 6),
                "wallS": round(r[2], 6),
                "sentCpuS": round(r[3], 6),
                "sentWallS": round(r[4], 6),
            }
            for s, r in self.rows.items()
        }
