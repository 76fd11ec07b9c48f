"""The gossip protocol with no I/O (the sans-I/O style of h11 and hyper-h2).

``GossipCore`` is a state machine. Its *events* are method calls: ``start``, ``tick`` (a
timer is due: ``next_timer`` says when), ``accepted`` (the node accepted an order that
rests), ``notify`` (a cancel or settlement notice), ``hello`` and ``receive`` (a peer's
request arrived), ``answered`` (a peer answered one of our calls, or did not: ``None``),
``judge`` and ``checked`` (the node's intake checked a peer's orders). Each returns the
*actions* the driver must take: ``Call`` (one signed request to a peer), ``Check`` (run a
peer's orders through the node's intake), ``Deliver`` (hand a notice to the node), and the
informational ``Scored`` and ``Evicted``. The core never reads a socket, sleeps or awaits:
its clock and random source are injected, so the same code runs behind aiohttp
(``sdex.gossip.gossip``) and inside the discrete-event simulator (``sdex.sim``).

The protocol (every step bounded; see ``sdex.gossip.flows`` for the multi-call ones):

- **Mesh push**: each node keeps a *mesh* of ``fanout`` (D) admitted peers, symmetric: a
  ``hello`` with ``"mesh": true`` asks the other side to add us (it does while it has fewer
  than ``mesh_max``), ``"mesh": false`` prunes. An order the node accepts for the first time
  is pushed to every live mesh peer but the one it came from: a flood over a connected
  random graph of degree about D, so every honest node gets it in about log_(D-1)(N) hops.
  Each peer has one bounded outbox (a full one drops its oldest), drained by Nagle's rule:
  with nothing in flight a loop turn's orders leave at once; what comes meanwhile leaves
  with the answer, or ``push_hold`` later on a slow link. None goes back to a peer that
  pushed it to us (``sdex.gossip.outbox.Heard``). A push names (``also``) the other live
  mesh peers the same orders go to now (none a pusher named to us); a receiver forwarding
  them spares those named, at most half of that forward's targets (a lying pusher cannot
  silence more), the other named ones ride with its next push there (or after ``hint_hold``).
- **Anti-entropy, bootstrap, admission, scores**: ``sdex.gossip.flows``, ``.peers``; the
  push side (outboxes, Nagle's rule, answers): ``sdex.gossip.pushing``.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from sdex.gossip import flows
from sdex.gossip.actions import (
    Action,
    Call,
    Check,
    Deliver,
    Evicted,
    Flow,
    GossipConfig,
    Pending,
    Reply,
    Scored,
    tally,
)
from sdex.gossip.hosts import source_group
from sdex.gossip.outbox import ALSO_MAX, SHORT_ID, Heard, Outbox
from sdex.gossip.peers import INVALID_PENALTY, Peers, normalize
from sdex.gossip.ports import OrderView
from sdex.gossip.pushing import Pushing
from sdex.gossip.quietlog import Quiet

log = logging.getLogger("sdex.gossip")

BOOTSTRAP_WAIT = 10.0
"""Seconds anti-entropy waits for the bootstrap at most (a slow or lying seed never blocks it)."""


class GossipCore(Pushing):
    def __init__(
        self,
        node_id: str,
        me: str,
        seeds: Iterable[str],
        view: OrderView,
        config: GossipConfig | None = None,
        *,
        max_orders: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or GossipConfig()
        self.view = view
        self.clock = clock
        self.rng = rng or random.Random()
        self.node_id = node_id
        self.max_orders = max_orders
        self.peers = Peers(
            node_id,
            me,
            clock=clock,
            rng=self.rng,
            on_drop=self._forget,
            per_host=self.config.peers_per_host,
            per_loopback=self.config.peers_per_loopback,
        )
        self.me = self.peers.me
        for url in seeds:
            self.peers.add_seed(url)
        self.mesh: dict[str, None] = {}  # ids of the peers this node pushes to (ordered set)
        self.links_blocked: set[str] = set()  # URLs it pretends it cannot reach (partitions)
        self.bootstrapped = False
        self.cancels_loaded = False
        """The bootstrap took a peer's soft-cancelled orders to its last page
        (``flows.cancelled``; a walk that failed part way does not count), or ended without
        a peer: a (re)started node takes wallets' orders from then on."""
        self.empty_seed: str | None = None
        """The bootstrap's peer whose walks served no soft cancel and no open order, until
        another peer shows orders it did not (``flows.anti_entropy``: that one's soft
        cancels are walked too)."""
        self.orders_sent = 0
        self.pulled = 0
        self.cancels_unasked = 0  # (a fetch's answer's cancels for hashes not asked: flows)
        self._heard = Heard()
        self._boxes: dict[str, Outbox] = {}
        self._sent: dict[int, Outbox] = {}
        self._waiting: dict[int, Pending] = {}
        self._timers: list[tuple[float, int, str]] = []
        self.void_timers = 0
        self.notices_refused = self.notices_dropped = 0  # (``_noticed``, ``notify``)
        self.notices_dropped_by: dict[str, int] = {}  # (by kind: ``cancels``, ``settlements``)
        self.notices_repeated_by: dict[str, int] = {}  # (by kind: ``NoticeBox.repeat``)
        self.held_back = Quiet(log, clock=clock)
        """Outboxes held while their peer waits out a backoff: said at a bounded rate."""
        """Outbox timers dropped unrun: their work went first (``Pushing._purge``)."""
        self._ids = itertools.count(1)
        self._out: list[Action] = []
        self._dialing: set[str] = set()
        self._boot_left = 0
        self._boot_seeds: set[str] = set()
        """The URLs the boot dialled: its peer is one of them if any was admitted."""
        self._ae_busy = False
        self._px_busy = False
        now = clock()
        self.next_ae = math.inf
        self.next_px = now + self._jitter(self.config.peer_exchange_interval)
        self.next_dial = now

    # ---- events -------------------------------------------------------------------------

    def start(self) -> list[Action]:
        """Say hello to the seeds, then load one admitted peer's open orders."""
        self.next_ae = self.clock() + BOOTSTRAP_WAIT
        seeds = self.peers.take_candidates(len(self.peers.candidates))
        self._boot_seeds = set(seeds)
        self._boot_left = len(seeds) + 1
        for url in seeds:
            if not self._spawn_dial(flows.dial(self, url, graft=False), url, self._boot_step):
                self._boot_step()
        self._boot_step()
        return self._drain()

    def tick(self) -> list[Action]:
        """Run whatever is due: pushes, dials and mesh upkeep, peer exchange, anti-entropy."""
        cfg, now = self.config, self.clock()
        self._due_pushes(now)
        if now >= self.next_dial:
            self.next_dial = now + self._jitter(cfg.dial_interval)
            for peer in self.peers.evict_failing():
                self._forget(peer.key)
                self._out.append(Evicted(peer.key, peer.url))
            room = self.peers.room()  # (0: full of healthy peers none of which may go yet)
            if room:
                for url in self.peers.take_candidates(min(4, room), cut=self.links_blocked):
                    self._spawn_dial(flows.dial(self, url, graft=False), url)
            self._keep_mesh(now)
        if now >= self.next_px:
            self.next_px = now + self._jitter(cfg.peer_exchange_interval)
            if not self._px_busy:
                for peer in self.peers.sample(1):
                    self._px_busy = True
                    flow = flows.dial(self, peer.url, graft=peer.key in self.mesh)
                    if not self._spawn_dial(flow, peer.url, self._px_done):
                        self._px_busy = False
        if now >= self.next_ae:
            self.next_ae = now + self._jitter(cfg.ae_interval)
            if not self._ae_busy:
                for peer in self.peers.sample(1):
                    self._ae_busy = True
                    self._spawn(flows.anti_entropy(self, peer), self._ae_done)
        return self._drain()

    def next_timer(self) -> float:
        """When ``tick`` has work next (clock time): an outbox timer that no longer has
        any (``Pushing._purge``) does not count."""
        t = min(self.next_dial, self.next_px, self.next_ae)
        self._purge()
        return min(t, self._timers[0][0]) if self._timers else t

    def accepted(self, order: dict[str, Any], exclude: str | None = None) -> list[Action]:
        return self.accepted_many([(order, exclude)])  # (it rests: to the mesh, not ``exclude``)

    def hello(
        self,
        sender: str,
        url: str,
        body: dict[str, Any],
        to: str | None = None,
        address: str | None = None,
    ) -> dict[str, object]:
        """A signed hello from ``sender``, signed for the node id ``to`` (``X-SDEX-To``; None:
        this node's, as the simulator passes), from the client ``address`` (None: not known,
        as in the simulator). Its claimed URL and the URLs it shares become candidates
        (dialled before they are trusted), each counting against ``address``'s host group
        and its own (``sdex.gossip.candidates``: keys are free, groups are not); ``"mesh"``
        grafts or prunes. The answer.

        One signed for another node (``to`` another id: replayed here) introduces nothing
        and neither grafts nor prunes (review29). A *first* hello (``to`` "": its signer did
        not know our id) may be one its signer sent elsewhere, replayed here, and nothing
        tells the two apart (the signer sends one to every URL whose id it does not know, so
        a node that introduces its own URLs to it collects them): it introduces only its
        signer's claimed URL, not the URLs it shares, and neither grafts nor prunes (peer30).
        A replay then spends at most one of the signer's introductions here, and none once
        the signer is admitted at that URL; the shared URLs are not lost: the claimed URL is
        dialled back, and the answer to our own hello (fresh, signed over our request)
        shares the signer's. One from an admitted peer at the URL it is known by ends the
        wait of its backoff (``Peers.retry_now``; a replayed first hello costs one call to
        a peer that was up when it signed it): the driver re-arms its timer after."""
        addressed = to is None or to.lower() == self.node_id.lower()
        peer, source = self.peers.get(sender), source_group(address)
        if (addressed or to == "") and (peer is None or peer.url != normalize(url)):
            self.peers.introduce(url, sender, source)
            if peer is None:  # (a seed evicted while it was down: dialled at once)
                self.peers.seed_hello(normalize(url))
        urls = body.get("peers")
        if addressed and isinstance(urls, list):
            for u in urls[: flows.MAX_SHARED_URLS]:
                self.peers.introduce(u, sender, source)
        known = peer is not None and peer.url == normalize(url) and (addressed or to == "")
        if known and peer is not None and self.peers.retry_now(peer):  # it is up again
            self.resume(sender)  # (gossip66: a restarted peer got no call for up to 12 s)
        granted = False
        graft = body.get("mesh") if addressed else None
        if graft is True and peer is not None and not self.peers.is_banned(sender):
            if sender in self.mesh or len(self.mesh) < self.config.mesh_max:
                self.mesh[sender] = None
                granted = True
        elif graft is False:
            self.mesh.pop(sender, None)
        return {"nodeId": self.node_id, "peers": [self.me, *self.shared_urls()], "mesh": granted}

    def shared_urls(self) -> list[str]:
        return self.peers.urls(flows.SHARE_URLS)  # a random few (what a hello shares)

    def receive(
        self, sender: str, orders: list[object], also: object = None, more: object = None
    ) -> Check:
        """Orders ``sender`` pushed, ``also`` to the peers it names (``more``: some of them
        to those; at most half of our forward's targets spared, ``Heard.spare``): the check
        to run (results go to ``judge``/``checked``)."""
        self._heard.note(sender, orders)
        mesh = {k[-SHORT_ID:]: k for k in self.mesh if k != sender} if also or more else {}
        if isinstance(also, list) and len(also) <= ALSO_MAX:
            self._heard.hint([mesh[a] for a in also if isinstance(a, str) and a in mesh], orders)
        if more is not None:
            self._heard.hint_some(more, mesh, orders)
        check = Check(next(self._ids), sender, orders, push=True)
        self._waiting[check.id] = Pending(check, None, None)
        return check

    def judge(self, check_id: int, results: list[str]) -> list[Action]:
        """Intake results for (part of) a check: forged orders cost their sender at once."""
        p = self._waiting.get(check_id)
        if p is not None and isinstance(p.action, Check):
            p.results.extend(results)
            forged = results.count("forged")
            if forged:
                p.bad += forged
                self._penalize(p.action.sender, forged)
        return self._drain()

    def checked(self, check_id: int) -> list[Action]:
        """A check is over: honest new orders earn their sender a point; a flow goes on."""
        p = self._waiting.pop(check_id, None)
        if p is None or not isinstance(p.action, Check):
            return self._drain()
        sender, counts = p.action.sender, tally(p.results)
        peer = self.peers.get(sender)
        if peer is not None:
            peer.received += len(p.action.orders)
        if not p.bad and counts["accepted"] and peer is not None:
            self.peers.reward(sender)
            self._out.append(Scored(sender, 1))
        if p.flow is not None:
            self._step(p.flow, counts, p.on_done)
        return self._drain()

    def answered(self, call_id: int, reply: Reply | None, unlooked: bool = False) -> list[Action]:
        """A peer answered call ``call_id`` (``None``: it failed, timed out or was refused;
        ``unlooked``: not made, its name not looked up here, ``Peers.verified``)."""
        p = self._waiting.pop(call_id, None)
        if p is None or not isinstance(p.action, Call):
            return self._drain()
        call = p.action
        if p.flow is None and call.kind == "notice":  # (a refusal is no failure: ``_noticed``)
            self._noticed(call, reply, unlooked)
            return self._drain()
        result: Any = reply if not call.peer else self.peers.verified(call, reply, unlooked)
        if p.flow is None:
            self._pushed(call, result)
        else:
            self._step(p.flow, result, p.on_done)
        return self._drain()

    def penalize(self, key: str, violations: int = 1) -> list[Action]:
        """``key`` proved bad faith (a malformed body, a forged notice)."""
        self._penalize(key, violations)
        return self._drain()

    # ---- what flows use -------------------------------------------------------------------

    def check(self, sender: str, orders: list[object], cancelled: bool = False) -> Check:
        return Check(next(self._ids), sender, orders, cancelled=cancelled)

    def deliver(self, sender: str, kind: str, notice: object) -> None:
        self._out.append(Deliver(sender, kind, notice))

    def penalize_later(self, key: str) -> None:
        self._penalize(key, 1)

    # ---- internals ------------------------------------------------------------------------

    def _jitter(self, seconds: float) -> float:
        return seconds * self.rng.uniform(0.8, 1.2)

    def _spawn(self, flow: Flow, on_done: Callable[[], None] | None = None) -> None:
        self._step(flow, None, on_done)

    def _spawn_dial(self, flow: Flow, url: str, on_done: Callable[[], None] | None = None) -> bool:
        """Start a hello to ``url`` unless one is under way (then the flow never runs)."""
        url = normalize(url)
        if url in self._dialing:
            flow.close()
            return False
        self._dialing.add(url)

        def done() -> None:
            self._dialing.discard(url)
            if on_done is not None:
                on_done()

        self._spawn(flow, done)
        return True

    def _step(self, flow: Flow, value: object, on_done: Callable[[], None] | None) -> None:
        try:
            action = flow.send(value)
        except StopIteration:
            if on_done is not None:
                on_done()
            return
        except Exception:  # a bug in a flow must not wedge the timers that wait on it
            log.exception("gossip flow failed")
            if on_done is not None:
                on_done()
            return
        self._waiting[action.id] = Pending(action, flow, on_done)
        self._out.append(action)

    def _penalize(self, key: str, violations: int) -> None:
        banned = self.peers.penalize(key, violations)
        self._out.append(Scored(key, -INVALID_PENALTY * violations, banned))
        if banned:
            self.mesh.pop(key, None)
            box = self._boxes.get(key)
            if box is not None:
                box.clear()

    def _forget(self, key: str) -> None:
        self.mesh.pop(key, None)
        self._boxes.pop(key, None)

    def _boot_step(self) -> None:
        self._boot_left -= 1
        if self._boot_left:
            return
        # a seed it dialled, not a stranger admitted meanwhile (review44: one that said hello
        # during the boot was drawn, answered no soft cancels, and the node took wallets'
        # orders without them); any peer only if no seed answered
        seeds = [p for p in self.peers.live() if p.url in self._boot_seeds]
        self.rng.shuffle(seeds)
        for peer in seeds[:1] or self.peers.sample(1):  # (the others: its soft cancels' retries)
            self._spawn(flows.snapshot(self, peer, seeds[1:]), self._booted)
            return
        self.cancels_loaded = True  # no peer: no soft cancel to learn
        self._booted()

    def _booted(self) -> None:
        self.bootstrapped = True
        self.next_ae = min(self.next_ae, self.clock() + self._jitter(self.config.ae_interval))

    def _ae_done(self) -> None:
        self._ae_busy = False

    def _px_done(self) -> None:
        self._px_busy = False

    def _keep_mesh(self, now: float) -> None:
        """Drop gone/banned mesh peers; graft or prune to ``fanout`` outside mesh_min..max."""
        cfg = self.config
        for key in [k for k in self.mesh if self.peers.get(k) is None or self.peers.is_banned(k)]:
            del self.mesh[key]
        live = sum(1 for k in self.mesh if self._live(k, now))
        if live < cfg.mesh_min:
            spare = [p for p in self.peers.live() if p.key not in self.mesh]
            for peer in self.rng.sample(spare, min(len(spare), cfg.fanout - live)):
                self._spawn_dial(flows.dial(self, peer.url, graft=True), peer.url)
        elif len(self.mesh) > cfg.mesh_max:
            extra = self.rng.sample(list(self.mesh), len(self.mesh) - cfg.fanout)
            for key in extra:
                del self.mesh[key]
                pruned = self.peers.get(key)
                if pruned is not None:
                    self._spawn_dial(flows.dial(self, pruned.url, graft=False), pruned.url)

    def _boxed(self, peer: dict[str, object]) -> dict[str, object]:
        """A peer's ``/health`` entry with its outbox's notices: waiting, refused by it for
        good (``_noticed``), dropped for a full box (``notify``), in all and by kind."""
        box = self._boxes.get(str(peer["key"]))
        waiting, refused, by, again = (
            (len(box.notices), box.refused, box.notices.dropped, box.notices.repeated)
            if box
            else (0, 0, {}, {})
        )
        return {
            **peer, "notices": waiting, "noticesRefused": refused,
            "noticesDropped": sum(by.values()), "noticesDroppedBy": dict(by),
            "noticesRepeatedBy": dict(again),
        }  # fmt: skip

    def stats(self) -> dict[str, object]:
        return {
            "nodeId": self.node_id,
            "peers": [self._boxed(p) for p in self.peers.to_json()],
            "seeds": self.peers.seeds_json(),
            "mesh": len(self.mesh),
            "candidates": len(self.peers.candidates),
            "ordersSent": self.orders_sent,
            "echoesSkipped": sum(b.echoes for b in self._boxes.values()),
            "hintSkipped": sum(b.hinted for b in self._boxes.values()),
            "hintHeld": sum(b.held for b in self._boxes.values()),
            "pulled": self.pulled,
            "cancelsUnasked": self.cancels_unasked,
            "voidTimers": self.void_timers,
            "outboxDropped": sum(b.dropped for b in self._boxes.values()),
            "noticesRefused": self.notices_refused,
            "noticesDropped": self.notices_dropped,
            "noticesDroppedBy": dict(self.notices_dropped_by),
            "noticesRepeatedBy": dict(self.notices_repeated_by),
        }
