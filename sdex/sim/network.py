"""A discrete-event network for the gossip core: simulated time, links, bandwidth, nodes.

No sockets and no asyncio: one heap of timed events. Each simulated node runs the real
``sdex.gossip.core.GossipCore`` with the simulator's clock and its own seeded random
source, and stands in for the node and the aiohttp transport around it:

- **Links**: each message's one-way latency is drawn from a lognormal distribution around
  ``latency_median`` (``latency_sigma`` its shape: 0.5 puts p99 at about 3.2 x the median).
- **Bandwidth**: every node has an uplink and a downlink of ``bandwidth`` bytes/s; a message
  leaves when the sender's uplink is free and is read when the receiver's downlink is
  (reserved in send order). Sizes are the JSON bodies plus the signed HTTP headers.
- **Intake**: a node checks a peer's orders one batch at a time, in chunks of
  ``intake_chunk`` (as ``Gossip.run_check`` does): ``check_cost`` seconds of the node's CPU
  per new order, ``known_cost`` per copy it already holds when the chunk starts (then a
  draw of ``peer_wait_shape`` off the CPU); a batch of copies all held already (its sender
  not banned) skips that queue, answered once its ``known_cost`` is spent; a wallet's order
  takes ``post_cost`` (its HTTP request) and ``check_cost``, then ``post_wait`` (or a draw
  of ``post_wait_shape``) off the CPU. The order's push is queued at the end of that turn
  of the loop, ahead of the messages that came meanwhile (an event loop runs what a
  callback scheduled before it reads new messages: ``Cpu.submit``'s ``first``); the order
  counts as delivered once the node has sent those pushes (its half of each message's
  cost), as the real node's websocket event leaves after them in their turn. Then
  ``after_cost`` of work per accepted order follows (the store writer, the events, ...):
  it delays what the node does next, not this order. A node's CPU runs one job at a time,
  in arrival order, on a core of its own or on a machine it shares with the other nodes
  (``sdex.sim.cpu``), so a wallet's order waits for the chunk being checked.
- **Churn**: a node can go offline (calls to it fail after a round trip) and come back as a
  restarted process: same orders, a new core that bootstraps from seeds.
- **Hostile nodes**: ``silent`` ones take orders and grafts and pass nothing on, and answer
  digests as if empty; ``forger`` ones also push two orders with bad signatures to each of
  their mesh peers every 0.25 s.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sdex.gossip.actions import Action, Call, Check, GossipConfig, Reply, Scored, tally
from sdex.gossip.client import ANSWER_ROOM
from sdex.gossip.core import GossipCore
from sdex.gossip.peers import MAX_PEERS
from sdex.sim.cpu import Cpu
from sdex.sim.links import LinkModel
from sdex.sim.orders import OrderSet

ReplyTo = tuple["SimNode", GossipCore, Call]
"""Where a push's answer goes once its batch is checked: the caller, its core, the call."""

REQUEST_OVERHEAD = 560
"""Bytes of a signed /p2p/ request besides its body: request line, host, content headers and
the four X-SDEX headers (claimed URL, time, body hash, 65-byte signature in hex)."""
ANSWER_OVERHEAD = 400
"""Bytes of a signed answer besides its body: status line, content headers, body hash and
signature."""


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


class SimNode(OrderSet):
    """One node: its open orders (the ``OrderView`` the core reads) and its gossip core."""

    def __init__(self, net: Network, index: int, kind: str = "honest") -> None:
        super().__init__()
        self.net = net
        self.index = index
        self.kind = kind
        self.node_id = f"0x{index:040x}"
        self.url = f"http://n{index}.sim"
        self.online = True
        self.up_free = 0.0
        self.down_free = 0.0
        self.checks: deque[tuple[GossipCore, Check, ReplyTo | None]] = deque()
        """Peer batches waiting for the intake (one at a time, as ``Gossip.run_check``)."""
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
        self.net.cpu.submit(self.index, cost, self._posted, self.core, order, hold=hold)

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
            self.run(core.accepted_many(orders))
        self.net.cpu.submit(self.index, 0.0, self._deliver, orders, first=True)

    def _deliver(self, orders: list[tuple[dict[str, str], str | None]]) -> None:
        """The orders' websocket events leave (the real node's: through ``wait_for``, a task
        spawned after the push tasks, in the turn that writes the pushes, after them)."""
        after = self.net.links.after_cost
        for o, _ in orders:
            self.net.delivered(self, o["hash"])
            if after > 0:
                self.net.cpu.submit(self.index, after, _done)

    def intake(self, orders: list[object], sender: str) -> list[str]:
        out = []
        accepted: list[tuple[dict[str, str], str | None]] = []
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
        self.hand_over(accepted)
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


class Network:
    def __init__(self, n: int, config: GossipConfig, links: LinkModel, seed: int) -> None:
        self.rng = random.Random(seed)
        self.config = config
        self.links = links
        self.sim = Sim()
        lk = links
        self.cpu = Cpu(self.sim, lk.cores, lk.background, lk.timeslice, lk.others, lk.others_trace,
                       lk.others_step, lk.others_groups, lk.sliced)  # fmt: skip
        self.nodes = [SimNode(self, i) for i in range(n)]
        self.by_url = {node.url: node for node in self.nodes}
        self.by_id = {node.node_id: node for node in self.nodes}
        self.on_delivered: Callable[[SimNode, str], None] = lambda node, h: None
        self.cost_rng = random.Random(f"cost-{seed}")
        self.wait_rng = random.Random(f"wait-{seed}")
        self.sizes: dict[str, int] = {}

    def new_cost(self, new: int) -> float:
        """CPU seconds ``new`` new orders cost a node's intake (``LinkModel.cost_shape``)."""
        lk, shape = self.links, self.links.cost_shape
        if not shape:
            return new * lk.check_cost
        draw = self.cost_rng.randrange
        return lk.check_cost * sum(shape[draw(len(shape))] for _ in range(new))

    def wait(self, shape: list[float] | None, mean: float) -> float:
        """Seconds off the CPU: a draw of ``shape`` (own random source), else ``mean``."""
        return shape[self.wait_rng.randrange(len(shape))] if shape else mean

    def delivered(self, node: SimNode, order_hash: str) -> None:
        self.on_delivered(node, order_hash)

    def wire(self, degree: int) -> None:
        """Warm peer tables: every node admits ``degree`` random others, both ways (as
        signed hellos would), up to the table's cap. Meshes then form by the protocol."""
        n = len(self.nodes)
        for node in self.nodes:
            for j in self.rng.sample(range(n), min(n, degree + 1)):
                other = self.nodes[j]
                if other is node or len(node.core.peers) >= MAX_PEERS:
                    continue
                if len(other.core.peers) >= MAX_PEERS:
                    continue
                node.core.peers.admit(other.node_id, other.url)
                other.core.peers.admit(node.node_id, node.url)
        for node in self.nodes:
            node.run(node.core.start())

    def bootstrap(self, seed: int = 0, starts: list[float] | None = None) -> None:
        """Cold peer tables, as ``bench/gossip.py --seeds bootstrap`` starts real nodes: every
        node but ``seed`` is started with that one node as its only seed; the others are
        found by peer exchange, and meshes form while the tables fill (the first grafts go
        to the few peers a node knows yet). ``starts``: the second each node comes up (the
        real processes' start-up times; calls to a node not up yet are refused), so the
        first grafts go where they went among the real nodes."""
        first = self.nodes[seed]
        for node in self.nodes:
            if node is not first:
                node.core = node._new_core([first.url])
        for node, at in zip(self.nodes, starts or [0.0] * len(self.nodes), strict=True):
            if at > 0:
                node.online = False
                self.sim.at(at, node.come_up)
            else:
                node.run(node.core.start())

    def latency(self) -> float:
        lk = self.links
        return lk.latency_median * math.exp(lk.latency_sigma * self.rng.gauss(0.0, 1.0))

    def _size(self, body: object) -> int:
        if isinstance(body, dict) and isinstance(body.get("orders"), list):
            total = 12
            for o in body["orders"]:
                h = o.get("hash", "") if isinstance(o, dict) else ""
                size = self.sizes.get(h)
                if size is None:
                    size = self.sizes[h] = len(json.dumps(o, separators=(",", ":"))) + 1
                total += size
            return total + (len(json.dumps(body.get("next"))) if "next" in body else 0)
        return 0 if body is None else len(json.dumps(body, separators=(",", ":")))

    def _transmit(
        self, src: SimNode, dst: SimNode | None, size: int, kind: str, up: bool
    ) -> float | None:
        """When a message of ``size`` bytes from ``src`` is read at ``dst`` (None: lost)."""
        lk = self.links
        depart = max(self.sim.now, src.up_free) + size / lk.bandwidth
        src.up_free = depart
        src.traffic.add(src.traffic.up, kind, size)
        if up:
            src.traffic.add(src.traffic.sent, kind, 1)
        if dst is None or not dst.online:
            return None
        start = max(depart + self.latency(), dst.down_free)
        dst.down_free = start + size / lk.bandwidth
        dst.traffic.add(dst.traffic.down, kind, size)
        return dst.down_free

    def send(self, src: SimNode, call: Call) -> None:
        """``src`` sends a request once its CPU has spent its half of ``message_cost`` on it
        (pushes leave one after another, ahead of the messages waiting: ``first``)."""
        cost = self.links.message_cost / 2
        self.cpu.submit(src.index, cost, self._depart, src, call, first=True)

    def _depart(self, src: SimNode, call: Call) -> None:
        dst = self.by_url.get(call.url)
        size = REQUEST_OVERHEAD + self._size(call.body) + len(call.path)
        if call.kind == "push" and isinstance(call.body, dict):
            src.copies += len(call.body.get("orders", []))
        at = self._transmit(src, dst, size, call.kind, up=True)
        if at is None or dst is None:  # nobody there: refused after a round trip
            back = self.sim.now + 2 * self.latency()
            self.sim.at(back, self._answer, src, src.core, call, None)
            return
        self.sim.at(at, self._on_cpu, dst, self.links.message_cost / 2, self._serve, dst, src,
                    src.core, call)  # fmt: skip

    def _serve(self, dst: SimNode, src: SimNode, core: GossipCore, call: Call) -> None:
        """``dst`` handles a request from ``src`` (as ``sdex.gossip.routes`` would)."""
        if not dst.online:
            return self.sim.at(self.sim.now + self.latency(), self._answer, src, core, call, None)
        sender = src.node_id
        if dst.core.peers.is_banned(sender):
            return self._reply(dst, src, core, call, Reply(403, None, {"code": 100}))
        body: dict[str, Any] = call.body if isinstance(call.body, dict) else {}
        view, out = dst, None
        if call.kind == "push":
            orders = body.get("orders")
            if isinstance(orders, list):
                check = dst.core.receive(sender, orders, body.get("also"), body.get("more"))
                return self.check(dst, check, answer=(src, core, call))
        elif call.kind == "hello":
            out = dst.core.hello(sender, src.url, body)
            dst.schedule_tick()
        elif call.kind == "digest":
            out = {"buckets": view.digest()}
        elif call.kind == "hashes":
            out = {"hashes": view.hashes_in(body.get("buckets", []))}
        elif call.kind == "fetch":
            out = {
                "orders": view.open_orders_by_hash(body.get("hashes", []), ANSWER_ROOM),
                "cancels": [],
            }
        elif call.kind == "snapshot":
            params = call.params or {}
            orders, nxt = view.snapshot_page(
                int(params["after"]), int(params["limit"]), ANSWER_ROOM
            )
            out = {"orders": orders, "next": nxt}
        self._reply(dst, src, core, call, Reply(200, dst.node_id, out or {}))

    def _reply(self, dst: SimNode, src: SimNode, core: GossipCore, call: Call, r: Reply) -> None:
        size = ANSWER_OVERHEAD + self._size(r.body)
        at = self._transmit(dst, src, size, call.kind, up=False)
        if at is None:
            at = self.sim.now + self.latency()  # the caller is gone: nobody reads it
        self.sim.at(at, self._on_cpu, src, 0.0, self._answer, src, core, call, r)

    def _on_cpu(self, node: SimNode, cost: float, fn: Callable[..., None], *args: Any) -> None:
        """Handle a message that just arrived once the node's CPU is free and has spent
        ``cost`` on it (behind earlier work, as in an event loop)."""
        self.cpu.submit(node.index, cost, fn, *args)

    def _answer(self, src: SimNode, core: GossipCore, call: Call, r: Reply | None) -> None:
        if core is src.core and src.online:
            src.run(core.answered(call.id, r))

    def check(self, node: SimNode, check: Check, answer: ReplyTo | None) -> None:
        """The node's intake checks peer batches one at a time; the core judges each chunk.
        A batch of copies all held here (and a sender not banned) is answered at once,
        ``known_cost`` an order, as ``Gossip.run_check`` does: not queued."""
        held = node.orders
        if (
            check.orders
            and not node.core.peers.is_banned(check.sender)
            and all(isinstance(o, dict) and o.get("hash") in held for o in check.orders)
        ):
            cost = len(check.orders) * self.links.known_cost
            args = (node, node.core, check, answer)
            return self.cpu.submit(node.index, cost, self._known_checked, *args)
        node.checks.append((node.core, check, answer))
        if not node.checking:
            self._next_check(node)

    def _next_check(self, node: SimNode) -> None:
        if not node.checks:
            node.checking = False
            return
        node.checking = True
        core, check, answer = node.checks.popleft()
        self._check_chunk(node, core, check, answer, 0, [])

    def _check_chunk(
        self,
        node: SimNode,
        core: GossipCore,
        check: Check,
        answer: ReplyTo | None,
        start: int,
        results: list[str],
    ) -> None:
        """Queue the next chunk on the node's CPU (its cost known then: copies are cheap)."""
        chunk = check.orders[start : start + self.config.intake_chunk]
        lk = self.links
        new = len({o.get("hash") for o in chunk if isinstance(o, dict)} - node.orders.keys())
        cost = self.new_cost(new) + (len(chunk) - new) * lk.known_cost
        hold = self.wait(lk.peer_wait_shape, 0.0) if new else 0.0
        args = (node, core, check, answer, start + len(chunk), results)
        self.cpu.submit(node.index, cost, self._chunk_checked, chunk, *args, hold=hold)

    def _known_checked(
        self, node: SimNode, core: GossipCore, check: Check, answer: ReplyTo | None
    ) -> None:
        """A batch of held copies checked out of turn: judged and answered."""
        if core is node.core and node.online:
            out = node.intake(check.orders, check.sender)
            node.run(core.judge(check.id, out))
            self._finish(node, core, check, answer, out)

    def _finish(
        self, node: SimNode, core: GossipCore, check: Check, answer: ReplyTo | None,
        results: list[str],
    ) -> None:  # fmt: skip
        node.run(core.checked(check.id))
        if answer is not None:
            src, src_core, call = answer
            self._reply(node, src, src_core, call, Reply(200, node.node_id, tally(results)))

    def _chunk_checked(
        self,
        chunk: list[object],
        node: SimNode,
        core: GossipCore,
        check: Check,
        answer: ReplyTo | None,
        end: int,
        results: list[str],
    ) -> None:
        if core is not node.core or not node.online:
            return self._next_check(node)
        out = node.intake(chunk, check.sender)
        results.extend(out)
        node.run(core.judge(check.id, out))
        if chunk and end < len(check.orders):
            return self._check_chunk(node, core, check, answer, end, results)
        self._finish(node, core, check, answer, results)
        self._next_check(node)
