"""One simulated network, start to finish, and the figures it yields.

1. ``nodes`` nodes; a ``hostile`` share of them silent (half of those also forge), chosen
   at random; peer tables warmed with ``degree`` random peers each (both ways), meshes formed
   by the protocol during ``warmup`` seconds (background traffic is measured there too).
2. ``orders`` real signed orders (their JSON as a wallet posts it) posted at ``rate`` per
   second, each to a random honest online node.
3. ``churn``: that share of the honest nodes goes offline at a random time in the posting
   window for ``churn_seconds``, and comes back as a restarted process (same orders, a new
   core bootstrapping from 3 random seeds).
4. Runs until every honest node online at the end holds every order, or ``drain`` seconds
   after the last post.

Figures: coverage (stable honest nodes, and every honest node online at the end), time from
post to every stable honest node (p50/p99/max over orders) and to each one (p50/p99 over
pairs), messages and bytes per order per node (push, and everything in the window including
background), background per node per second, and how many orders per second a node's
bandwidth allows at the measured bytes per order (the busier of its two directions).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from sdex.gossip.actions import GossipConfig
from sdex.order import Domain, Order, address_of, sign_order
from sdex.sim.cpu import WATCHER
from sdex.sim.links import LinkModel
from sdex.sim.network import Network
from sdex.sim.node import SimNode
from sdex.sim.pushtimes import PushTimes

ZERO = "0x" + "00" * 20
WETH = "0x" + "c0" * 20
USDC = "0x" + "a0" * 20
DOMAIN = Domain(31337, "0x" + "5f" * 20)
BOOTSTRAP_MAX = 60.0
"""Simulated seconds a ``bootstrap`` network may take to fill its peer tables."""


@dataclass
class Scenario:
    nodes: int = 1000
    orders: int = 100
    rate: float = 20.0
    seed: int = 1
    hostile: float = 0.0
    churn: float = 0.0
    churn_seconds: float = 5.0
    degree: int = 32
    """Warm peer tables: each node starts knowing this many random others (both ways)."""
    seeds: str = "warm"
    """``warm`` (``degree`` above) or ``bootstrap``: node 0 is every other node's only seed
    and tables fill by peer exchange (as bench/gossip.py starts real nodes); the warm-up then
    starts once every honest node knows every other one (at most ``BOOTSTRAP_MAX`` s)."""
    starts: list[float] | None = None
    """``bootstrap``: the second each node comes up (None: all at once)."""
    warmup: float = 5.0
    drain: float = 10.0
    links: LinkModel = field(default_factory=LinkModel)
    gossip: GossipConfig = field(default_factory=GossipConfig)
    progress: Callable[[float, int], None] | None = None
    """Called with (simulated seconds, events run) every ``progress_every`` wall seconds at
    most while the run goes (``Sim.progress``)."""
    progress_every: float = 5.0
    samples: bool = False
    """Also return every order's delay to every node (``to_all_s``, seconds, in posting order;
    ``inf`` for one that missed a node): the caller pools them over seeds."""


def make_orders(n: int, rng: random.Random) -> list[dict[str, str]]:
    """``n`` real signed orders (10 makers), with their hash under ``"hash"``."""
    keys = [rng.randbytes(32) for _ in range(10)]
    out = []
    for i in range(n):
        key = keys[i % len(keys)]
        ask = i % 2 == 0
        o = Order(
            address_of(key), ZERO, WETH if ask else USDC, USDC if ask else WETH,
            10**16, 20 * 10**6 + i, ZERO, 0, 2_000_000_000, rng.getrandbits(256),
        )  # fmt: skip
        signed = sign_order(o, DOMAIN, key)
        out.append({**signed.to_json(), "hash": signed.hash_hex})
    return out


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def ms(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) else round(x * 1000, 1)


class Run:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.rng = random.Random(sc.seed)
        self.net = Network(sc.nodes, sc.gossip, sc.links, sc.seed)
        self.net.sim.progress, self.net.sim.progress_every = sc.progress, sc.progress_every
        if sc.samples:  # (each push's pieces of time, beside the real nodes' ``pushTiming``)
            self.net.times = PushTimes()
        n_hostile = round(sc.hostile * sc.nodes)
        for k, i in enumerate(self.rng.sample(range(sc.nodes), n_hostile)):
            self.net.nodes[i].kind = "forger" if k % 2 else "silent"
        self.honest = [n for n in self.net.nodes if n.kind == "honest"]
        self.orders = make_orders(sc.orders, self.rng)
        for o in self.orders:
            body = {k: v for k, v in o.items() if k != "hash"}
            self.net.sizes[o["hash"]] = len(json.dumps(body, separators=(",", ":"))) + 1
        self.index = {o["hash"]: i for i, o in enumerate(self.orders)}
        self.posted = [math.inf] * len(self.orders)
        self.got: list[dict[int, float]] = [{} for _ in self.orders]
        self.churned: set[int] = set()
        self.copies = 0
        self.net.on_delivered = self._delivered

    def _delivered(self, node: SimNode, order_hash: str) -> None:
        i = self.index.get(order_hash)
        if i is None or node.kind != "honest":
            return
        watch = self.sc.links.watch_cost
        if watch > 0:  # the observer reads the node's event once it gets a core
            self.net.cpu.submit(WATCHER, watch, self._seen, i, node.index)
        else:
            self._seen(i, node.index)

    def _seen(self, i: int, node: int) -> None:
        self.got[i].setdefault(node, self.net.sim.now)

    def _post(self, i: int) -> None:
        online = [n for n in self.honest if n.online]
        node = online[self.rng.randrange(len(online))]
        self.posted[i] = self.net.sim.now
        node.post(self.orders[i])

    def _forge(self, node: SimNode) -> None:
        if not node.online:
            return
        live = node.core.peers.live()
        mesh = [p for p in live if p.key in node.core.mesh]
        for peer in mesh or self.rng.sample(live, min(4, len(live))):
            fakes = [
                {**self.orders[0], "hash": "0x" + self.rng.randbytes(32).hex(), "forged": "1"}
                for _ in range(2)
            ]
            call = node.core.call(peer, "push", "POST", "/p2p/orders", {"orders": fakes})
            self.net.send(node, call)
        self.net.sim.at(self.net.sim.now + 0.25, self._forge, node)

    def _leave(self, node: SimNode) -> None:
        node.online = False
        self.net.sim.at(self.net.sim.now + self.sc.churn_seconds, self._back, node)

    def _back(self, node: SimNode) -> None:
        seeds = [n.url for n in self.rng.sample(self.honest, 3) if n is not node]
        node.restart(seeds)

    def _snapshot(self) -> dict[str, Any]:
        out: dict[str, dict[str, int]] = {"sent": {}, "up": {}, "down": {}}
        for n in self.honest:
            for name in out:
                for kind, v in getattr(n.traffic, name).items():
                    out[name][kind] = out[name].get(kind, 0) + v
        return out

    def _tables_full(self) -> bool:
        want = len(self.net.nodes) - 1
        return all(len(n.core.peers.live()) >= want for n in self.honest)

    def _complete(self) -> bool:
        if self.net.sim.now < self.posted[-1]:
            return False
        want = len(self.honest)
        return all(len(g) >= want for g in self.got)

    def go(self) -> dict[str, Any]:
        sc, net, sim = self.sc, self.net, self.net.sim
        wall = time.perf_counter()
        if sc.seeds == "bootstrap":
            net.bootstrap(starts=sc.starts)
            sim.run(BOOTSTRAP_MAX, done=self._tables_full)
        else:
            net.wire(sc.degree)
        for node in self.net.nodes:
            if node.kind == "forger":
                sim.at(sim.now + sc.warmup + self.rng.random() * 0.5, self._forge, node)
        sim.run(sim.now + sc.warmup / 2)
        bg0, t_bg0 = self._snapshot(), sim.now
        sim.run(sim.now + sc.warmup / 2)
        bg1, t_bg1 = self._snapshot(), sim.now
        start = sim.now
        net.cpu.trace_start = start  # a measured load trace starts with the first post
        if net.times is not None:
            net.times.start = start
        net.counted_from = start
        copies0 = sum(n.copies for n in self.honest)
        window = sc.orders / sc.rate
        for i in range(sc.orders):
            sim.at(start + i / sc.rate, self._post, i)
        churners = self.rng.sample(self.honest, round(sc.churn * len(self.honest)))
        for node in churners:
            self.churned.add(node.index)
            sim.at(start + self.rng.random() * window, self._leave, node)
        end = start + window + max(sc.drain, sc.churn_seconds + 5.0 if churners else 0.0)
        sim.run(end, done=self._complete)
        t_end = sim.now
        traffic = self._snapshot()
        self.copies = sum(n.copies for n in self.honest) - copies0
        return self._figures(bg0, bg1, t_bg1 - t_bg0, traffic, t_end - start, wall)

    def _figures(
        self,
        bg0: dict[str, Any],
        bg1: dict[str, Any],
        bg_seconds: float,
        traffic: dict[str, Any],
        seconds: float,
        wall: float,
    ) -> dict[str, Any]:
        sc = self.sc
        stable = [n.index for n in self.honest if n.index not in self.churned]
        online_end = [n.index for n in self.honest if n.online]
        to_all, pairs, to_first = [], [], []
        delivered_stable = delivered_end = 0
        for i, g in enumerate(self.got):
            times = [g[k] - self.posted[i] for k in stable if k in g]
            pairs.extend(times)
            delivered_stable += len(times)
            delivered_end += sum(1 for k in online_end if k in g)
            to_all.append(max(times) if len(times) == len(stable) else math.inf)
            to_first.append(min(times, default=math.inf))
        n_h, n_o = len(self.honest), len(self.orders)

        def per_order(table: dict[str, int], kinds: set[str] | None = None) -> float:
            total = sum(v for k, v in table.items() if kinds is None or k in kinds)
            return round(total / (n_o * n_h), 3)

        def minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}

        bg = {name: minus(bg1[name], bg0[name]) for name in ("sent", "up", "down")}
        traffic = {name: minus(traffic[name], bg1[name]) for name in ("sent", "up", "down")}
        bg_rate = {
            "messages": round(sum(bg["sent"].values()) / (n_h * bg_seconds), 2),
            "bytes": round(sum(bg["up"].values()) / (n_h * bg_seconds)),
        }
        push = {"push"}
        up_push, down_push = per_order(traffic["up"], push), per_order(traffic["down"], push)
        bw = sc.links.bandwidth
        busier = max(up_push, down_push)
        allows = (bw - bg_rate["bytes"]) / busier if busier else None
        bans = [b for n in self.honest for b in n.bans]
        hostile_ids = {n.node_id for n in self.net.nodes if n.kind != "honest"}
        mesh = [len(n.core.mesh) for n in self.honest if n.online]
        echoes = sum(cast(int, n.core.stats()["echoesSkipped"]) for n in self.honest)
        out: dict[str, Any] = {"to_all_s": to_all} if sc.samples else {}
        if self.net.times is not None:
            out["push_timing_ms"] = self.net.times.quantiles()
        cpu = self.net.cpu
        if cpu.queued:  # (sim23) the line's waits, beside the real nodes' run_delay
            waits = [cpu.waited.get(n.index, 0.0) for n in self.honest]
            out["line"] = {
                "node_wait_ms_per_s": round(1000 * sum(waits) / len(waits) / seconds, 3),
                "other_cores": round(cpu.other_seconds / seconds, 4),
                "node_cores": round(sum(cpu.busy_seconds.values()) / seconds, 4),
            }
        return out | {
            "nodes": sc.nodes,
            "orders": n_o,
            "rate_per_s": sc.rate,
            "hostile": sc.hostile,
            "churn": sc.churn,
            "coverage": round(delivered_stable / (n_o * len(stable)), 6),
            "coverage_online_at_end": round(delivered_end / (n_o * len(online_end)), 6),
            "to_all_ms": {
                "p50": ms(pct(to_all, 0.5)),
                "p99": ms(pct(to_all, 0.99)),
                "max": ms(max(to_all)),
            },
            "to_each_ms": {"p50": ms(pct(pairs, 0.5)), "p99": ms(pct(pairs, 0.99))},
            "to_first_ms": {q: ms(pct(to_first, f)) for q, f in FIRST_QUANTILES},
            "per_order_per_node": {
                "messages": per_order(traffic["sent"]),
                "push_messages": per_order(traffic["sent"], push),
                "order_copies_pushed": round(self.copies / (n_o * n_h), 3),
                "echoes_skipped": round(echoes / (n_o * n_h), 3),
                "intake_groups": round(self.net.groups / (n_o * n_h), 3),
                "intake_merged": round(self.net.merged / (n_o * n_h), 3),
                "bytes_up": per_order(traffic["up"]),
                "push_bytes_up": up_push,
                "push_bytes_down": down_push,
            },
            "messages_by_kind": traffic["sent"],
            "background_per_node_per_s": bg_rate,
            "orders_per_s_bandwidth_allows": None if allows is None else int(allows),
            "mesh_size": {"mean": round(sum(mesh) / max(1, len(mesh)), 2), "max": max(mesh)},
            "bans": {
                "of_hostile": len({b for b in bans if b in hostile_ids}),
                "of_honest": len([b for b in bans if b not in hostile_ids]),
            },
            "simulated_seconds": round(seconds, 3),
            "events": self.net.sim.events,
            "wall_seconds": round(time.perf_counter() - wall, 1),
            "links": asdict(sc.links),
            "fanout": sc.gossip.fanout,
        }


FIRST_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
"""Of the delivery to an order's first node (its wallet's): one node's work on an order."""


def simulate(sc: Scenario) -> dict[str, Any]:
    return Run(sc).go()
