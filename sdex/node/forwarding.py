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
turn after the one that handed the order over (two ``call_soon`` a turn, no allocation per
order). In the turn between, gossip hands the turn's orders to its core and spawns the
pushes; in the next their tasks write them, before the loop reads new messages. Between
the start and then the loop also ran the rest of the peer's check (its answer written) and
the websocket events: all the loop did before the order left."""

from __future__ import annotations

import asyncio
import time

SOURCES = ("wallet", "peer")


class ForwardTiming:
    """Sums per source (``SOURCES``): orders handed over, loop CPU seconds, wall seconds."""

    __slots__ = ("cpu_at", "handed", "pending", "rows", "scheduled", "wall_at")

    def __init__(self) -> None:
        self.handed = 0
        """Orders handed to gossip so far (any source)."""
        self.cpu_at = 0.0
        self.wall_at = 0.0
        """``time.thread_time`` and ``time.perf_counter`` at the last hand-over."""
        self.rows = {s: [0, 0.0, 0.0, 0.0, 0.0] for s in SOURCES}
        """Orders, loop CPU and wall seconds to the hand-over, and to the pushes' writes."""
        self.pending = {s: [0, 0.0, 0.0] for s in SOURCES}
        """Intake calls whose orders' pushes are being written: how many, the sums of their
        starts' CPU and wall times."""
        self.scheduled = False

    @staticmethod
    def start() -> tuple[float, float]:
        """The intake's start: (thread CPU, wall) now."""
        return time.thread_time(), time.perf_counter()

    def handed_over(self) -> None:
        """An order was just handed to gossip (its pushes queued)."""
        self.handed += 1
        self.cpu_at, self.wall_at = time.thread_time(), time.perf_counter()

    def last(self) -> tuple[float, float]:
        """(thread CPU, wall) at the last hand-over."""
        return self.cpu_at, self.wall_at

    def add(
        self, source: str, started: tuple[float, float], ended: tuple[float, float], orders: int
    ) -> None:
        """``orders`` orders of an intake call that ``started`` were handed over, the last
        one when ``ended`` (``last`` right after it)."""
        if orders > 0:
            row = self.rows[source]
            row[0] += orders
            row[1] += ended[0] - started[0]
            row[2] += ended[1] - started[1]
            wait = self.pending[source]  # (a chunk's span once, as above)
            wait[0] += 1
            wait[1] += started[0]
            wait[2] += started[1]
            if not self.scheduled:
                try:
                    asyncio.get_running_loop().call_soon(self._turn_ended)
                    self.scheduled = True
                except RuntimeError:  # (no loop: nothing is pushed)
                    pass

    def _turn_ended(self) -> None:
        """The hand-over's turn ended: gossip spawns the pushes now, they write next turn."""
        asyncio.get_running_loop().call_soon(self._written)

    def _written(self) -> None:
        self.scheduled = False
        cpu, wall = time.thread_time(), time.perf_counter()
        for source, wait in self.pending.items():
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
