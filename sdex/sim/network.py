"""A discrete-event network for the gossip core: simulated time, links, bandwidth, nodes.

No sockets and no asyncio: one heap of timed events. Each simulated node runs the real
``sdex.gossip.core.GossipCore`` with the simulator's clock and its own seeded random
source, and stands in for the node and the aiohttp transport around it:

- **Links**: each message's one-way latency is drawn from a lognormal distribution around
  ``latency_median`` (``latency_sigma`` its shape: 0.5 puts p99 at about 3.2 x the median).
- **Bandwidth**: every node has an uplink and a downlink of ``bandwidth`` bytes/s; a message
  leaves when the sender's uplink is free and is read when the receiver's downlink is
  (reserved in send order). Sizes are the JSON bodies plus the signed HTTP headers.
- **Intake**: a node checks peers' orders one group at a time, as ``PeerChecks`` does: the
  batches that waited while a group was in go in together, at most ``intake_chunk`` orders
  (a large batch split over groups); their orders are passed on together and the batches
  answered together at the group's end: ``check_cost`` seconds of the node's CPU per new
  order (``handover_share`` of it, then the rest queued anew, as the intake yields at its
  signatures' hand-over), ``known_cost`` per copy it already holds when the group starts
  (then a draw of ``peer_wait_shape`` off the CPU); a batch of copies all held already (its sender
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
  (``sdex.sim.cpu``), so a wallet's order waits for the chunk being checked. With a core
  each, or in line for a shared machine's (``LinkModel.queued``), a node's waits for it may
  come in ``spells`` (``sdex.sim.spells``): a job that would start in one starts at its end.
- **Churn**: a node can go offline (calls to it fail after a round trip) and come back as a
  restarted process: same orders, a new core that bootstraps from seeds.
- **Hostile nodes**: ``silent`` ones take orders and grafts and pass nothing on, and answer
  digests as if empty; ``forger`` ones also push two orders with bad signatures to each of
  their mesh peers every 0.25 s.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

from sdex.gossip.actions import Call, Check, GossipConfig, Reply, tally
from sdex.gossip.client import ANSWER_ROOM
from sdex.gossip.core import GossipCore
from sdex.gossip.listing import listing, starts_of
from sdex.gossip.peers import MAX_PEERS
from sdex.sim.cpu import Bursts, Cpu
from sdex.sim.delays import Delays
from sdex.sim.events import Sim
from sdex.sim.links import LinkModel
from sdex.sim.node import ReplyTo, SimNode, Waiting
from sdex.sim.pushtimes import PushTimes
from sdex.sim.shares import GroupShare, Steps
from sdex.sim.spells import Spells

REQUEST_OVERHEAD = 560
"""Bytes of a signed /p2p/ request besides its body: request line, host, content headers and
the four X-SDEX headers (claimed URL, time, body hash, 65-byte signature in hex)."""
ANSWER_OVERHEAD = 400
"""Bytes of a signed answer besides its body: status line, content headers, body hash and
signature."""


def bursts(lk: LinkModel) -> Bursts | None:
    """The other processes' measured bursts for the line (sim23), if the links have them."""
    if not lk.others_bursts or lk.bursts_step <= 0:
        return None
    return Bursts(lk.bursts_step, lk.others_bursts, lk.bursts_whole, lk.bursts_groups,
                  lk.bursts_fair)  # fmt: skip


class Network:
    def __init__(self, n: int, config: GossipConfig, links: LinkModel, seed: int) -> None:
        self.rng = random.Random(seed)
        self.config = config
        self.links = links
        self.sim = Sim()
        lk = links
        spells = None if lk.spells is None else Spells(lk.spells, seed).free_at
        if lk.node_delays and lk.bursts_step > 0:  # (sim23) the real nodes' waits replayed
            spells = Delays(lk.node_delays, lk.bursts_step, lambda: self.cpu.trace_start).free_at
        self.cpu = Cpu(self.sim, lk.cores, lk.background, lk.timeslice, lk.others, lk.others_trace,
                       lk.others_step, lk.others_groups, lk.sliced, spells, lk.queued,
                       lk.waking_first, bursts(lk))  # fmt: skip
        self.cpu.wake_only = bool(lk.node_delays) and lk.delays_woken
        if lk.node_speeds and lk.bursts_step > 0:  # (sim23) the real nodes' share of a core
            shares = Delays(lk.node_speeds, lk.bursts_step, lambda: self.cpu.trace_start)
            self.cpu.speed_of = shares.speed
        if lk.group_shares and lk.group_step > 0:  # (sim25) the other groups' share of a core
            share = GroupShare(lk.group_shares, lk.group_step, lambda: self.cpu.trace_start)
            self.cpu.share_at = share.at
            if lk.group_own:
                own = Steps(lk.group_own, lk.group_step, lambda: self.cpu.trace_start)
                self.cpu.own_at = own.at
        if lk.wake_shape and lk.queued:  # (sim48) a woken node's lateness, drawn
            late, draw = lk.wake_shape, random.Random(f"wake-{seed}").randrange
            self.cpu.wake_at = lambda node, t: t + late[draw(len(late))]
        self.nodes = [SimNode(self, i) for i in range(n)]
        self.by_url = {node.url: node for node in self.nodes}
        self.by_id = {node.node_id: node for node in self.nodes}
        self.on_delivered: Callable[[SimNode, str], None] = lambda node, h: None
        self.cost_rng = random.Random(f"cost-{seed}")
        self.wait_rng = random.Random(f"wait-{seed}")
        self.sizes: dict[str, int] = {}
        self.times: PushTimes | None = None
        self.groups = self.merged = 0
        """Intake groups from ``counted_from`` on, and those of more than one check's orders."""
        self.counted_from = 0.0
        """Each push's pieces of time (``sdex.sim.pushtimes``), if asked for."""

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
        t = self.times
        if t is not None and call.kind == "push" and isinstance(call.body, dict):
            orders = call.body.get("orders") or [{}]
            t.add("hold", self.sim.now, t.handed.get((src.index, orders[0].get("hash", ""))))
        self.cpu.submit(src.index, cost, self._depart, src, call, first=True)

    def _depart(self, src: SimNode, call: Call) -> None:
        dst = self.by_url.get(call.url)
        size = REQUEST_OVERHEAD + self._size(call.body) + len(call.path)
        if call.kind == "push" and isinstance(call.body, dict):
            src.copies += len(call.body.get("orders", []))
            if self.times is not None:
                self.times.left[(src.index, call.id)] = self.sim.now
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
            out = listing(view, body.get("buckets", []), starts=starts_of(body.get("from")))
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
        if (t := self.times) is not None and call.kind == "push":
            t.add("roundTrip", self.sim.now, t.left.pop((src.index, call.id), None))
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
        if self.times is not None and answer is not None:
            self.times.asked[(node.index, check.id)] = self.sim.now
        node.checks.append(Waiting(node.core, check, answer))
        if not node.checking:
            self._next_check(node)

    def _next_check(self, node: SimNode) -> None:
        """The next group through the intake, as ``sdex.gossip.checks.PeerChecks`` takes it:
        the waiting checks' orders from the queue's head, whoever sent them, at most
        ``intake_chunk`` (a large check split over groups), one job on the node's CPU."""
        if not node.checks:
            node.checking = False
            return
        node.checking = True
        room, group = max(1, self.config.intake_chunk), []
        for w in node.checks:
            if room <= 0:
                break
            if w.given == 0 and (t := self.times) is not None and w.answer is not None:
                t.add("queue", self.sim.now, t.asked.pop((node.index, w.check.id), None))
                t.began[(node.index, w.check.id)] = self.sim.now
            n = len(w.check.orders) - w.given
            if n > 0 and w.core.peers.is_banned(w.check.sender):  # rejected on the spot
                w.given, n = len(w.check.orders), 0
                w.results.extend(["rejected"] * len(w.check.orders))
            n = min(n, room)
            group.append((w, w.check.orders[w.given : w.given + n]))
            w.given += n
            room -= n
        if self.sim.now >= self.counted_from:
            self.groups += 1
            self.merged += sum(1 for _, orders in group if orders) > 1
        lk, hashes = self.links, set()
        for _, orders in group:
            hashes |= {o.get("hash") for o in orders if isinstance(o, dict)}
        new = len(hashes - node.orders.keys())
        size = sum(len(orders) for _, orders in group)
        cost = self.new_cost(new) + (size - new) * lk.known_cost
        hold = self.wait(lk.peer_wait_shape, 0.0) if new else 0.0
        share = lk.handover_share if new else 0.0
        self.handed(node, cost, share, hold, self._group_checked, node, group)

    def handed(
        self, node: SimNode, cost: float, share: float, hold: float, fn: Callable[..., None],
        *args: Any,
    ) -> None:  # fmt: skip
        """``fn(*args)`` after ``cost`` of ``node``'s CPU and ``hold`` off it; ``share`` of the
        cost before the intake's signatures' hand-over, the rest a job of its own queued then
        (``LinkModel.handover_share``), behind the jobs that came meanwhile."""
        if share <= 0 or share >= 1:
            return self.cpu.submit(node.index, cost, fn, *args, hold=hold)
        rest = cost * (1 - share)
        self.cpu.submit(node.index, cost * share, self._resume, node, rest, hold, fn, args)

    def _resume(
        self,
        node: SimNode,
        cost: float,
        hold: float,
        fn: Callable[..., None],
        args: tuple[Any, ...],
    ) -> None:
        self.cpu.submit(node.index, cost, fn, *args, hold=hold)

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
        if (t := self.times) is not None and answer is not None:
            t.add("check", self.sim.now, t.began.pop((node.index, check.id), None))
        if answer is not None:
            src, src_core, call = answer
            self._reply(node, src, src_core, call, Reply(200, node.node_id, tally(results)))

    def _group_checked(self, node: SimNode, group: list[tuple[Waiting, list[object]]]) -> None:
        """A group's verdicts: its accepted orders handed over together (one intake call: their
        pushes leave in one turn), each check judged on its share, and the checks with all
        their verdicts in answered together (their leaders wake in the same turn)."""
        stale = [w for w, _ in group if w.core is not node.core or not node.online]
        for w in stale:  # (offline meanwhile, or restarted with a new core: dropped)
            if w in node.checks:
                node.checks.remove(w)
        shares = [(w, orders) for w, orders in group if w not in stale]
        verdicts = node.intake_many([(orders, w.check.sender) for w, orders in shares])
        for (w, _), out in zip(shares, verdicts, strict=True):
            w.results.extend(out)
            node.run(w.core.judge(w.check.id, out))
        for w, _ in shares:
            if w.given >= len(w.check.orders):  # all its verdicts in
                node.checks.remove(w)
                self._finish(node, w.core, w.check, w.answer, w.results)
        self._next_check(node)
