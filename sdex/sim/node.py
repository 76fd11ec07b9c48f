"""One simulated node: its open orders, its gossip core, and its side of each exchange.

It stands in for the node and the aiohttp transport around the real
``sdex.gossip.core.GossipCore`` (``sdex.sim.network`` describes the model); the network it
runs on is anything with the ``Host`` interface (``sdex.sim.network.Network``).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sdex.gossip.actions import Action, Call, Check, GossipConfig, Scored
from sdex.gossip.core import GossipCore
from sdex.sim.cpu import Cpu
from sdex.sim.events import Sim, Traffic
from sdex.sim.links import LinkModel
from sdex.sim.orders import OrderSet
from sdex.sim.pushtimes import PushTimes

ReplyTo = tuple["SimNode", GossipCore, Call]
"""Where a push's answer goes once its batch is checked: the caller, its core, the call."""


class Host(Protocol):
    """What a node needs of the network it runs on (``sdex.sim.network.Network``)."""

    rng: random.Random
    config: GossipConfig
    links: LinkModel
    sim: Sim
    cpu: Cpu
    times: PushTimes | None

    def new_cost(self, new: int) -> float: ...

    def wait(self, shape: list[float] | None, mean: float) -> float: ...

    def handed(
        self, node: SimNode, cost: float, share: float, hold: float, fn: Callable[..., None],
        *args: Any,
    ) -> None: ...  # fmt: skip

    def delivered(self, node: SimNode, order_hash: str) -> None: ...

    def send(self, src: SimNode, call: Call) -> None: ...

    def check(self, node: SimNode, check: Check, answer: ReplyTo | None) -> None: ...


class Waiting:
    """A peer's batch in the intake's queue: how many of its orders went to the intake, and
    their verdicts so far (``sdex.gossip.checkparts``' ``Entry``)."""

    __slots__ = ("answer", "check", "core", "given", "results")

    def __init__(self, core: GossipCore, check: Check, answer: ReplyTo | None) -> None:
        self.core, self.check, self.answer = core, check, answer
        self.given = 0
        self.results: list[str] = []


class SimNode(OrderSet):
    """One node: its open orders (the ``OrderView`` the core reads) and its gossip core."""

    def __init__(self, net: Host, index: int, kind: str = "honest") -> None:
        super().__init__()
        self.net = net
        self.index = index
        self.kind = kind
        self.node_id = f"0x{index:040x}"
        self.url = f"http://n{index}.sim"
        self.online = True
        self.up_free = 0.0
        self.down_free = 0.0
        self.checks: deque[Waiting] = deque()
        """Peer batches waiting for the intake (in groups, as ``PeerChecks``)."""
        self.checking = False
        self.traffic = Traffic()
        self.copies = 0
        """Order copies this node pushed."""
        self.bans: list[str] = []
        self.core = self._new_core([])
        self.tick_at = math.inf

    def _new_core(self, seeds: list[str]) -> GossipCore:
        rng = random.Random(self.net.rng.random())
        return GossipCore(
            self.node_id,
            self.url,
            seeds,
            self,
            self.net.config,
            clock=lambda: self.net.sim.now,
            rng=rng,
        )

    # ---- OrderView: a hostile node answers as if it held nothing ------------------------------

    def digest(self) -> list[str]:
        return super().digest() if self.kind == "honest" else ["0"] * 256

    def hashes_in(self, buckets: Iterable[int]) -> list[str]:
        return super().hashes_in(buckets) if self.kind == "honest" else []

    def snapshot_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        if self.kind != "honest":
            return [], after
        return super().snapshot_page(after, limit, max_bytes)

    # ---- the node's side ----------------------------------------------------------------------

    def post(self, order: dict[str, str]) -> None:
        """A wallet posted ``order`` here: its request and check (no peer batch ahead)."""
        lk = self.net.links
        cost = lk.post_cost + self.net.new_cost(1)
        hold = self.net.wait(lk.post_wait_shape, lk.post_wait)
        self.net.handed(self, cost, lk.post_handover_share, hold, self._posted, self.core, order)

    def _posted(self, core: GossipCore, order: dict[str, str]) -> None:
        if self.online and core is self.core and self.add(order):
            self.hand_over([(order, None)])

    def hand_over(self, orders: list[tuple[dict[str, str], str | None]]) -> None:
        """Accepted orders reach the gossip core at the end of the loop's turn (``call_soon``),
        ahead of the messages that came during their check (only a copy heard before it, as
        while the node waited for a core, is not sent back), their pushes too."""
        if not orders:
            return
        if self.kind == "honest":
            self.net.cpu.submit(self.index, 0.0, self._turn_end, self.core, orders, first=True)
        else:
            for o, _ in orders:
                self.net.delivered(self, o["hash"])

    def _turn_end(self, core: GossipCore, orders: list[tuple[dict[str, str], str | None]]) -> None:
        """The pushes are queued on the node's CPU (each leaves once its share of the
        message's cost is spent), the orders delivered behind them, then ``after_cost``."""
        if core is self.core and self.online:
            if (t := self.net.times) is not None:
                for o, _ in orders:
                    t.handed[(self.index, o["hash"])] = self.net.sim.now
            self.run(core.accepted_many(orders))
        self.net.cpu.submit(self.index, 0.0, self._deliver, orders, first=True)

    def _deliver(self, orders: list[tuple[dict[str, str], str | None]]) -> None:
        """The orders' websocket events leave (the real node's: through ``wsapi._sent``, a task
        spawned after the push tasks, in the turn that writes the pushes, after them)."""
        after = self.net.links.after_cost
        for o, _ in orders:
            self.net.delivered(self, o["hash"])
            if after > 0:
                self.net.cpu.submit(self.index, after, _done)

    def intake(self, orders: list[object], sender: str) -> list[str]:
        return self.intake_many([(orders, sender)])[0]

    def intake_many(self, shares: list[tuple[list[object], str]]) -> list[list[str]]:
        """Each (orders, sender)'s verdicts, in one intake call: the accepted orders are handed
        over together."""
        accepted: list[tuple[dict[str, str], str | None]] = []
        verdicts = [self._verdicts(orders, sender, accepted) for orders, sender in shares]
        self.hand_over(accepted)
        return verdicts

    def _verdicts(
        self, orders: list[object], sender: str, accepted: list[tuple[dict[str, str], str | None]]
    ) -> list[str]:
        out = []
        for o in orders:
            if not isinstance(o, dict) or "hash" not in o:
                out.append("rejected")
            elif o.get("forged"):
                out.append("forged")
            elif o["hash"] in self.orders:
                out.append("known")
            else:
                self.add(o)
                accepted.append((o, sender))
                out.append("accepted")
        return out

    def run(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Call):
                self.net.send(self, a)
            elif isinstance(a, Check):
                self.net.check(self, a, answer=None)
            elif isinstance(a, Scored) and a.banned:
                self.bans.append(a.peer)
        self.schedule_tick()

    def schedule_tick(self) -> None:
        t = max(self.core.next_timer(), self.net.sim.now)
        if t < self.tick_at:
            self.tick_at = t
            self.net.sim.at(t, self.net.cpu.submit, self.index, 0.0, self._tick, self.core, t)

    def _tick(self, core: GossipCore, t: float) -> None:
        """The core's timers, once the node's CPU is free (an event loop runs its timer
        callbacks between the jobs before them)."""
        if core is not self.core or t != self.tick_at or not self.online:
            return
        self.tick_at = math.inf
        self.run(core.tick())

    def come_up(self) -> None:
        """The node's process is up: its core starts (from the seeds it was given)."""
        self.online = True
        self.run(self.core.start())

    def restart(self, seeds: list[str]) -> None:
        """Back online as a restarted process: same orders, a new core from ``seeds``."""
        self.online = True
        self.core = self._new_core(seeds)
        self.tick_at = math.inf
        self.run(self.core.start())


def _done() -> None:
    """The end of a job that only takes CPU time (``after_cost``)."""
