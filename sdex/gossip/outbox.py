"""What the gossip core keeps per peer for pushing: its outbox, and which orders each peer
pushed to us (so that none is pushed back to it). Plain data, no I/O."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

HEARD_MAX = 20_000
"""Orders (by signature) whose senders are remembered, oldest forgotten first (at 1,000
orders/s, 20 s of them: echoes come within a flush or two)."""
HEARD_PEERS_MAX = 64
"""Senders remembered per order."""


class Heard:
    """Order signature -> ids of the peers that pushed that order to this node (bounded)."""

    def __init__(self, capacity: int = HEARD_MAX) -> None:
        self.capacity = capacity
        self._by_sig: dict[str, set[str]] = {}

    def note(self, sender: str, orders: Iterable[object]) -> None:
        """``sender`` pushed ``orders`` (unchecked: a lie only keeps orders from the liar)."""
        by_sig = self._by_sig
        for o in orders:
            sig = o.get("signature") if isinstance(o, dict) else None
            if not isinstance(sig, str) or len(sig) > 140:
                continue
            peers = by_sig.get(sig)
            if peers is None:
                if len(by_sig) >= self.capacity:
                    del by_sig[next(iter(by_sig))]
                by_sig[sig] = {sender}
            elif len(peers) < HEARD_PEERS_MAX:
                peers.add(sender)

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
    notices: deque[tuple[str, dict[str, Any]]] = field(default_factory=deque)
    in_flight: int = 0
    due: float | None = None
    dropped: int = 0
    echoes: int = 0
    """Orders left out because this peer had pushed them to us."""

    def take(self, most: int, heard: Heard) -> list[dict[str, Any]]:
        """The next batch (at most ``most``), without the orders this peer sent us."""
        batch: list[dict[str, Any]] = []
        orders, by_sig, key, echoes = self.orders, heard._by_sig, self.key, 0
        while orders and len(batch) < most:  # (``heard.sent_by`` inlined: per order copy)
            o = orders.popleft()
            sig = o.get("signature")
            peers = by_sig.get(sig) if isinstance(sig, str) else None
            if peers is not None and key in peers:
                echoes += 1
            else:
                batch.append(o)
        self.echoes += echoes
        return batch
