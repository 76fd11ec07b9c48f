"""The gossip core's push side: per-peer outboxes and Nagle's rule (``GossipCore`` is built on
it). An order the node accepts goes to its mesh peers' outboxes (``accepted_many``); a box
leaves as one push when nothing is in flight to that peer, or with the answer of the one in
flight (``push_hold`` later on a slow link), up to ``push_window`` in flight (notices first,
``notice_window`` of them); forwards its pushers named wait in ``later`` (``hint_hold``). Plain
state, no I/O: the driver sends the
``Call`` actions it returns and hands their answers to ``answered`` (``_pushed``)."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import Callable
from typing import Any

from sdex.gossip.actions import Action, Call, GossipConfig, Pending, Reply
from sdex.gossip.noticebox import ident, kind_label
from sdex.gossip.outbox import ALSO_MAX, SHORT_ID, Heard, Outbox
from sdex.gossip.peers import Peer, Peers
from sdex.gossip.quietlog import Quiet

log = logging.getLogger("sdex.gossip")

AGAIN = frozenset({401, 403, 408, 425, 429})
"""4xx statuses about the sender (unproven, banned) or the moment, not the notice: a notice
so answered is sent again (a failure of the link, as for any call; 429: ``BUSY``)."""
BUSY = frozenset({429, 503})
"""Statuses of a peer that is up but cannot take the notice now: a backoff, no failure."""


class Pushing:
    """The push side's state and steps; ``GossipCore`` sets the fields in its ``__init__``."""

    config: GossipConfig
    clock: Callable[[], float]
    rng: random.Random
    peers: Peers
    mesh: dict[str, None]
    orders_sent: int
    _heard: Heard
    _boxes: dict[str, Outbox]
    _sent: dict[int, Outbox]
    """The box each push or notice in flight left from (by call id): its answer counts there
    only if that box is still its peer's (gossip94: one forgotten meanwhile, ``_forget``, and
    made again when the peer came back, had its ``in_flight`` taken to -1 by an old answer)."""
    _waiting: dict[int, Pending]
    _timers: list[tuple[float, int, str]]
    void_timers: int
    notices_refused: int
    notices_dropped: int
    notices_dropped_by: dict[str, int]
    notices_repeated_by: dict[str, int]
    held_back: Quiet
    _ids: itertools.count[int]
    _out: list[Action]

    def accepted_many(self, orders: list[tuple[dict[str, Any], str | None]]) -> list[Action]:
        """``accepted`` for several (order, sender) pairs: one look at the live mesh."""
        now, cfg = self.clock(), self.config
        live = [k for k in self.mesh if self._live(k, now)]
        boxes: dict[str, Outbox] = {}
        by_exclude: dict[str | None, list[Outbox]] = {}  # the mesh's boxes but the sender's
        for order, exclude in orders:
            targets = by_exclude.get(exclude)
            if targets is None:
                keys = [k for k in live if k != exclude]
                if keys:
                    targets = by_exclude[exclude] = [self._box(k) for k in keys]
                else:  # no mesh yet (a node starting, or a tiny network): random peers
                    targets = [self._box(p.key) for p in self.peers.sample(cfg.fanout, exclude)]
            now_boxes, later = self._heard.split(order, targets)
            for box in now_boxes if cfg.hint_hold else now_boxes + later:
                boxes[box.key] = box
                box.put(box.orders, order, cfg.outbox_max)
            for box in later if cfg.hint_hold else ():  # named: rides with the next push
                if (due := box.hold(order, now + cfg.hint_hold, cfg.outbox_max)) is not None:
                    heapq.heappush(self._timers, (due, next(self._ids), box.key))
        jitter = 0.0 if any(e is None for _, e in orders) else cfg.forward_jitter  # own: now
        for box in boxes.values():
            self._schedule(box, now, self.rng.uniform(0.0, jitter) if jitter else 0.0)
        return self._drain()

    def notify(self, kind: str, notice: dict[str, Any], exclude: str | None = None) -> list[Action]:
        """A cancel or settlement notice: to every admitted peer (they are rare and small;
        none twice in a box, none its peer answered lately: ``NoticeBox.repeat``, counted by
        kind; a full box keeps cancels: ``NoticeBox.put``),
        one in a backoff once it is over, before the orders waiting for it (cancel63: a peer
        whose link failed a moment got the order of a cancel made meanwhile, never the
        cancel, and booked it open until anti-entropy told it). tests63: only a peer in a
        backoff whose outbox held orders was given it; one whose link had failed just before
        the order came (the order not queued for it: anti-entropy carries open orders) never
        got the cancel, and took the order open when anyone posted it there."""
        now, most, same = self.clock(), self.config.outbox_max, ident(kind, notice)
        for key in [p.key for p in self.peers.others(exclude)]:
            box = self._box(key)
            if box.notices.repeat(kind, same):  # (gossip93: a repeat was sent each time)
                label = kind_label(kind)
                self.notices_repeated_by[label] = self.notices_repeated_by.get(label, 0) + 1
                continue
            full = len(box.notices) >= most
            if full != box.full:  # (push91: new notices were dropped without a word)
                box.full = full
                say = log.warning if full else log.info
                say("notices for peer %s: %s", key, _FULL if full else _ROOM)
            if (gone := box.notices.put(kind, notice, same, most)) is not None:
                self.notices_dropped += 1  # (push92: a cancel or a settlement notice)
                label = kind_label(gone)
                self.notices_dropped_by[label] = self.notices_dropped_by.get(label, 0) + 1
            self._schedule(box, now)
        return self._drain()

    def resume(self, key: str) -> None:
        """The peer ``key``'s backoff ended early (``Peers.retry_now``): what its box held
        for it leaves at the next tick (its timer at the wait's end is void then)."""
        box, now = self._boxes.get(key), self.clock()
        if box is not None and box.due is not None and box.due > now and not box.in_flight:
            box.due = now
            heapq.heappush(self._timers, (now, next(self._ids), key))

    def _due_pushes(self, now: float) -> None:
        """The outboxes' timers that are due: held forwards board, held pushes leave."""
        cfg = self.config
        while self._timers and self._timers[0][0] <= now:
            due, _, key = heapq.heappop(self._timers)
            box = self._boxes.get(key)
            if box is not None and box.later_due == due:  # no push took them along
                box.board(cfg.outbox_max)
                self._schedule(box, now)
            elif box is not None and box.due == due:
                self._flush(box)

    def _purge(self) -> None:
        """Drop the void outbox timers at the head of the queue: those whose push left with
        an answer first (Nagle's ``push_hold``) or whose held forwards rode with a push
        (``hint_hold``). ``_due_pushes`` would pass them by; the driver, which arms its
        one timer at ``next_timer``, would wake the node for nothing at each (gossip27)."""
        timers, boxes = self._timers, self._boxes
        while timers:
            due, _, key = timers[0]
            box = boxes.get(key)
            if box is not None and (box.later_due == due or box.due == due):
                return
            heapq.heappop(timers)
            self.void_timers += 1

    def call(
        self,
        peer: Peer | None,
        kind: str,
        method: str,
        path: str,
        body: object = None,
        params: dict[str, str] | None = None,
        url: str = "",
        timeout: float | None = None,
    ) -> Call:
        """A call to ``peer`` (its answer must be signed by it), or a hello to ``url``."""
        url, key = (peer.url, peer.key) if peer is not None else (url, "")
        return Call(next(self._ids), kind, url, method, path, body, params, key, timeout)

    def _drain(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _live(self, key: str, now: float) -> bool:
        peer = self.peers.get(key)
        return peer is not None and peer.reachable(now)

    def _box(self, key: str) -> Outbox:
        box = self._boxes.get(key)
        if box is None:
            box = self._boxes[key] = Outbox(key)
        return box

    def _schedule(self, box: Outbox, now: float, later: float = 0.0) -> None:
        cfg = self.config
        if box.due is not None or box.in_flight >= cfg.push_window:
            return  # (a full window: the next answer sends what waits)
        # Nagle: with a push in flight, wait for its answer (or ``push_hold``: a slow link)
        delay = max(cfg.flush_delay + later, cfg.push_hold if box.in_flight else 0.0)
        if delay <= 0.0:  # a loop turn's orders came together
            return self._flush(box)
        box.due = now + delay
        heapq.heappush(self._timers, (box.due, next(self._ids), box.key))

    def _flush(self, box: Outbox) -> None:
        """Send the next batch (or notice) in ``box`` if its peer can take it now."""
        box.due = None
        peer = self.peers.get(box.key)
        now = self.clock()
        if peer is None or peer.banned(now):  # evicted or banned: anti-entropy repairs
            box.clear()
            return
        if not (box.orders or box.notices):
            return
        if not peer.reachable(now):
            self.held_back.say(
                "%d orders and %d notices for %s held: it waits out a backoff for %.1f s",
                len(box.orders), len(box.notices), peer.url, peer.retry_at - now,
            )  # fmt: skip
            if not box.in_flight:
                box.due = max(peer.retry_at, now + 0.01)
                heapq.heappush(self._timers, (box.due, next(self._ids), box.key))
            return
        if box.notices:  # oldest first, ``notice_window`` in flight; orders wait for them
            notices, most = box.notices, self.config.notice_window
            if box.in_flight > notices.flying:
                return  # (pushes of orders in flight: the notices go after their answers)
            while notices.sendable() and notices.flying < most:
                kind, notice = notices.send()
                self._send(box, self.call(peer, "notice", "POST", f"/p2p/{kind}", notice))
            return
        box.board(self.config.outbox_max)  # (``later`` rides along: no frame of its own)
        while box.orders and box.in_flight < self.config.push_window:
            batch = box.take(self.config.batch_max, self._heard)
            if batch:  # ``also``: live mesh peers the same orders go to now (``receive``)
                ks, some = self._heard.names(batch, self.mesh, box.key)  # (``more``: for some)
                body = {"orders": batch, "also": [k[-SHORT_ID:] for k in ks if self._live(k, now)]}
                if more := [[k[-SHORT_ID:], i] for k, i in some if self._live(k, now)]:
                    body["more"] = more[:ALSO_MAX]
                self._send(box, self.call(peer, "push", "POST", "/p2p/orders", body))

    def _send(self, box: Outbox, call: Call) -> None:
        box.in_flight += 1
        self._sent[call.id] = box
        self._waiting[call.id] = Pending(call, None, None)
        self._out.append(call)

    def _pushed(self, call: Call, result: dict[str, Any] | None) -> None:
        box = self._sent.pop(call.id, None)
        if box is None or self._boxes.get(call.peer) is not box:
            return  # (its box forgotten meanwhile: the answer is for none now)
        box.in_flight -= 1
        if call.kind == "push":
            assert isinstance(call.body, dict)
            batch: list[dict[str, Any]] = call.body["orders"]
            if result is None:
                box.orders.extendleft(reversed(batch))  # retried after the backoff
            else:
                peer = self.peers.get(call.peer)
                if peer is not None:
                    peer.sent += len(batch)
                self.orders_sent += len(batch)
        else:
            box.notices.answered(call.body, result is not None)
        self._flush(box)  # (what waited for this answer goes now; a pending timer is void)

    def _noticed(self, call: Call, reply: Reply | None, unlooked: bool) -> None:
        """A notice's answer. A refusal its peer signed (a 4xx but ``AGAIN``: a notice it
        judges bad, a cancel of an order it holds no room to keep) is final: that notice is
        dropped, counted (``refused``) and logged, and the peer did not fail (push91: it
        stayed at the head of the peer's box, sent again for ever with every later notice
        behind it, each answer a failure toward the peer's eviction). ``BUSY``, signed: a
        backoff, not counted toward eviction; it is sent again after it. No answer, or
        another: a failure (``Peers.verified``), sent again after the backoff; one of a
        window whose peer a failure set in a backoff since (review93c: a window failing at
        once counted ``notice_window`` failures, past ``EVICT_FAILURES``: a peer quiet for
        ``EVICT_SECONDS`` was evicted over one failed burst, its box cleared) is that one."""
        peer = self.peers.get(call.peer)
        if peer is not None and not peer.reachable(self.clock()) and _failed(reply, peer.key):
            self._pushed(call, None)  # (the same failure of the link or peer: counted once)
            return
        if peer is None or reply is None or reply.signer != peer.key or reply.status < 400:
            result = self.peers.verified(call, reply, unlooked)  # (never too large: a notice)
            self._pushed(call, result if isinstance(result, dict) else None)
            return
        box = self._sent.get(call.id)
        if box is not self._boxes.get(call.peer):
            box = None  # (forgotten meanwhile: ``_pushed`` ignores its answer)
        if reply.status in BUSY:
            self.peers.failed(peer, counted=False)
        elif reply.status >= 500 or reply.status in AGAIN:
            self.peers.verified(call, reply, unlooked)  # (a failure: its backoff)
        else:
            self.peers.ok(peer)
            if box is not None and box.notices:
                box.refused += 1
                self.notices_refused += 1
                box.notices.answered(call.body, True)
                why = reply.body.get("reason") if isinstance(reply.body, dict) else None
                log.warning(
                    "peer %s refused a notice (%s %s: %.200s): dropped, not sent again",
                    peer.url, call.path, reply.status, why,
                )  # fmt: skip
        self._pushed(call, None)


def _failed(reply: Reply | None, key: str) -> bool:
    """Whether a notice's answer is a failure of its peer (``_noticed``): none, not signed
    by the peer, a 5xx, or a 4xx about the sender or the moment (``AGAIN``)."""
    return reply is None or reply.signer != key or reply.status >= 500 or reply.status in AGAIN


_FULL = (
    "its box holds as many as it takes (outbox_max): a new cancel takes the place of its oldest"
    " settlement notice, else new ones are dropped (anti-entropy repairs)"
)
_ROOM = "its box takes notices again"
