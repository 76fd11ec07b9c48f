"""What the gossip core keeps per peer for pushing: its outbox, and which orders each peer
pushed to us (so that none is pushed back to it). Plain data, no I/O."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sdex.gossip.noticebox import NoticeBox

HEARD_MAX = 20_000
"""Orders (by signature) whose senders are remembered, oldest forgotten first (at 1,000
orders/s, 20 s of them: echoes come within a flush or two)."""
HEARD_PEERS_MAX = 64
"""Senders remembered per order."""


SHORT_ID = 8
"""Last characters of a peer id a push's ``also`` names it by (32 bits: a collision only
leaves out one more forward, within the bound)."""
ALSO_MAX = 16
"""Ids a push's ``also`` may name (more: the hint is ignored)."""


class Heard:
    """Order signature -> ids of the peers that pushed that order to this node (bounded),
    and of the peers a pusher said it sends the same orders to (``hint``; ``spare`` leaves
    out at most half of a forward's targets, however many pushers say so)."""

    def __init__(self, capacity: int = HEARD_MAX) -> None:
        self.capacity = capacity
        # Ordered: the oldest leaves in O(1). ``del d[next(iter(d))]`` on a plain dict scans
        # the slots its earlier deletions left empty: 35-120 us an order once 20,000 are held.
        self._by_sig: OrderedDict[str, set[str]] = OrderedDict()
        self._hinted: OrderedDict[str, set[str]] = OrderedDict()

    def note(self, sender: str, orders: Iterable[object]) -> None:
        """``sender`` pushed ``orders`` (unchecked: a lie only keeps orders from the liar)."""
        self._add(self._by_sig, [sender], orders, HEARD_PEERS_MAX)

    def hint(self, peers: list[str], orders: Iterable[object]) -> None:
        """A pusher says ``peers`` get ``orders`` from it too (a claim: ``spare`` bounds what
        any number of such claims may leave out when the orders are forwarded)."""
        if peers:
            self._add(self._hinted, peers, orders, HEARD_PEERS_MAX)

    def spare(self, order: dict[str, Any], targets: list[Outbox]) -> list[Outbox]:
        """The ``targets`` to forward ``order`` to: those its pushers named are left out, at
        most half of them (so a lying pusher silences no more than that, whatever the mesh
        is when the order is forwarded)."""
        now, later = self.split(order, targets)
        return now + later if later else now

    def split(
        self, order: dict[str, Any], targets: list[Outbox]
    ) -> tuple[list[Outbox], list[Outbox]]:
        """(``order``'s forwards to send now, those that may wait): as ``spare``, and of the
        targets kept, those its pushers named (they most likely have it) may wait."""
        sig = order.get("signature")
        named = self._hinted.get(sig) if isinstance(sig, str) else None
        if not named:
            return targets, []
        most = len(targets) // 2
        now: list[Outbox] = []
        later: list[Outbox] = []
        for box in targets:
            if box.key not in named:
                now.append(box)
            elif most:
                box.hinted += 1
                most -= 1
            else:
                later.append(box)
        return now, later

    def _add(self, table: OrderedDict[str, set[str]], peers: list[str], orders: Iterable[object],
             most: int) -> None:  # fmt: skip
        """Per order copy received (two calls a push): the lookups hoisted out of the loop,
        and one sender (``note``) added without the loop over ``peers``."""
        capacity, get, one = self.capacity, table.get, peers[0] if len(peers) == 1 else None
        for o in orders:
            sig = o.get("signature") if isinstance(o, dict) else None
            if not isinstance(sig, str) or len(sig) > 140:
                continue
            known = get(sig)
            if known is None:
                if len(table) >= capacity:
                    table.popitem(last=False)
                if one is not None:
                    table[sig] = {one}
                    continue
                known = table[sig] = set()
            if one is not None:
                if len(known) < most:
                    known.add(one)
                continue
            for p in peers:
                if len(known) >= most:
                    break
                known.add(p)

    def names(
        self, batch: list[dict[str, Any]], keys: Iterable[str], but: str
    ) -> tuple[list[str], list[tuple[str, list[int]]]]:
        """What a push of ``batch`` to ``but`` may name, of ``keys``: its ``also``, the peers
        no pusher named for any order of ``batch``; and its ``more``, each peer a pusher named
        for some orders of it with the indices of the others. A named peer was spared or held
        here, so naming it in turn would pass on a claim this node did not make true (a chain
        of such names held an order back by ``hint_hold`` at each hop); a batch mixing
        forwards of named orders with others keeps the others' names. One pass over the
        batch's signatures; only the named peers are looked at order by order."""
        get = self._hinted.get
        named = [get(sig) if isinstance(sig := o.get("signature"), str) else None
                 for o in batch]  # fmt: skip
        union: set[str] = set()
        for ks in named:
            if ks:
                union |= ks
        keys = [k for k in keys if k != but]
        if not union:
            return keys, []
        some = [
            (k, [i for i, ks in enumerate(named) if not ks or k not in ks])
            for k in keys
            if k in union
        ]
        return [k for k in keys if k not in union], [(k, free) for k, free in some if free]

    def hint_some(self, more: object, mesh: dict[str, str], orders: list[object]) -> None:
        """A push's ``more``: ``[[short id, [order index, ...]], ...]`` (a peer named for
        those orders of the push only), at most ``ALSO_MAX`` peers, each index once and in
        order; anything else and the whole of it is ignored (as an ``also`` too long)."""
        if not isinstance(more, list) or len(more) > ALSO_MAX:
            return
        picked: list[tuple[str, list[object]]] = []
        for item in more:
            if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], list):
                return
            short, idx = item
            last = -1
            for i in idx:
                if type(i) is not int or not last < i < len(orders):
                    return
                last = i
            if isinstance(short, str) and (key := mesh.get(short)) is not None:
                picked.append((key, [orders[i] for i in idx]))
        for key, some in picked:
            self.hint([key], some)

    def sent_by(self, order: dict[str, Any], peer: str) -> bool:
        sig = order.get("signature")
        peers = self._by_sig.get(sig) if isinstance(sig, str) else None
        return peers is not None and peer in peers

    def __len__(self) -> int:
        return len(self._by_sig)


@dataclass
class Outbox:
    key: str
    orders: deque[dict[str, Any]] = field(default_factory=deque)
    notices: NoticeBox = field(default_factory=NoticeBox)
    later: deque[dict[str, Any]] = field(default_factory=deque)
    """Forwards that wait to ride with the next push (``GossipConfig.hint_hold``)."""
    later_due: float | None = None
    in_flight: int = 0
    due: float | None = None
    dropped: int = 0
    echoes: int = 0
    """Orders left out because this peer had pushed them to us."""
    hinted: int = 0
    """Orders left out because their pusher said it sends them to this peer too."""
    held: int = 0
    """Orders that waited to ride with a later push (``later``)."""
    refused: int = 0
    """Notices this peer refused for good (a 4xx it signed): dropped, not sent again."""
    full: bool = False
    """Whether the last notice for this peer found its box full (logged at each change)."""

    def put(self, queue: deque[dict[str, Any]], order: dict[str, Any], most: int) -> None:
        """``order`` into ``queue`` (``orders`` or ``later``), a full one drops its oldest."""
        if len(queue) >= most:
            queue.popleft()
            self.dropped += 1
        queue.append(order)

    def hold(self, order: dict[str, Any], due: float, most: int) -> float | None:
        """``order`` waits in ``later`` until ``due`` at most; ``due`` if a timer is needed."""
        self.held += 1
        self.put(self.later, order, most)
        if self.later_due is not None:
            return None
        self.later_due = due
        return due

    def clear(self) -> None:
        self.orders.clear()
        self.notices.clear()
        self.later.clear()
        self.later_due = None  # (a timer still queued for it finds nothing to board)

    def board(self, most: int) -> None:
        """What waits in ``later`` goes with the next push (first: it came first); a queue
        then over ``most`` drops its oldest, as ``put`` does."""
        if self.later:
            self.orders.extendleft(reversed(self.later))
            while len(self.orders) > most:
                self.orders.popleft()
                self.dropped += 1
        self.later.clear()
        self.later_due = None

    def take(self, most: int, heard: Heard) -> list[dict[str, Any]]:
        """The next batch (at most ``most``), without the orders this peer sent us."""
        batch: list[dict[str, Any]] = []
        orders, by_sig, key = self.orders, heard._by_sig, self.key
        while orders and len(batch) < most:  # (``heard.sent_by`` inlined: per order copy)
            o = orders.popleft()
            sig = o.get("signature")
            if isinstance(sig, str) and key in by_sig.get(sig, ()):
                self.echoes += 1
            else:
                batch.append(o)
        return batch
