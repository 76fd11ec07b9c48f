"""Known peers, their scores and bans (0x-mesh's scoring is the anchor).

A peer loses ``INVALID_PENALTY`` points for every order or notice that proves bad faith
(forged signature, malformed, impossible amounts) and is banned for ``BAN_SECONDS`` once
its score reaches ``BAN_SCORE``; valid new orders earn a point back, up to ``MAX_SCORE``.
A peer that does not answer backs off exponentially (capped) and is retried later.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

INVALID_PENALTY = 5
BAN_SCORE = -20
MAX_SCORE = 20
BAN_SECONDS = 600.0
BACKOFF_BASE = 0.2
BACKOFF_MAX = 10.0


@dataclass
class Peer:
    url: str
    score: int = 0
    banned_until: float = 0.0
    failures: int = 0
    retry_at: float = 0.0
    sent: int = 0
    """Order copies sent to this peer."""
    received: int = 0
    """Orders received from this peer."""
    invalid: int = 0

    def banned(self, now: float) -> bool:
        return now < self.banned_until

    def reachable(self, now: float) -> bool:
        return not self.banned(now) and now >= self.retry_at

    def to_json(self) -> dict[str, object]:
        now = time.monotonic()
        return {
            "url": self.url,
            "score": self.score,
            "banned": self.banned(now),
            "failures": self.failures,
            "sent": self.sent,
            "received": self.received,
            "invalid": self.invalid,
        }


class Peers:
    def __init__(self, me: str, max_peers: int = 64) -> None:
        self.me = normalize(me)
        self.max_peers = max_peers
        self._peers: dict[str, Peer] = {}

    def add(self, url: str) -> Peer | None:
        """Know ``url`` (not ourselves, bounded); the peer record, or None if refused."""
        url = normalize(url)
        if url == self.me or not url.startswith("http"):
            return None
        peer = self._peers.get(url)
        if peer is None:
            if len(self._peers) >= self.max_peers:
                return None
            peer = self._peers[url] = Peer(url)
        return peer

    def get(self, url: str) -> Peer | None:
        return self._peers.get(normalize(url))

    def urls(self) -> list[str]:
        return list(self._peers)

    def live(self) -> list[Peer]:
        now = time.monotonic()
        return [p for p in self._peers.values() if p.reachable(now)]

    def sample(self, k: int, exclude: str | None = None) -> list[Peer]:
        """Up to ``k`` random reachable peers, not ``exclude``."""
        ex = normalize(exclude) if exclude else None
        live = [p for p in self.live() if p.url != ex]
        return live if len(live) <= k else random.sample(live, k)

    def is_banned(self, url: str) -> bool:
        p = self.get(url)
        return p is not None and p.banned(time.monotonic())

    def penalize(self, url: str, violations: int = 1) -> None:
        p = self.add(url)
        if p is None:
            return
        p.invalid += violations
        p.score -= INVALID_PENALTY * violations
        if p.score <= BAN_SCORE:
            p.banned_until = time.monotonic() + BAN_SECONDS

    def reward(self, url: str, points: int = 1) -> None:
        p = self.get(url)
        if p is not None:
            p.score = min(MAX_SCORE, p.score + points)

    def failed(self, peer: Peer) -> None:
        peer.failures += 1
        delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** min(peer.failures, 10))
        peer.retry_at = time.monotonic() + delay * random.uniform(0.8, 1.2)

    def ok(self, peer: Peer) -> None:
        peer.failures = 0
        peer.retry_at = 0.0

    def to_json(self) -> list[dict[str, object]]:
        return [p.to_json() for p in self._peers.values()]

    def __len__(self) -> int:
        return len(self._peers)


def normalize(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else "http://" + url
