"""Open orders in memory, as the gossip core reads them (``sdex.gossip.ports.OrderView``):
by hash, in arrival order, each digest bucket's hashes sorted, with the digest's 256 buckets
kept up to date. The simulator's nodes are built on it, and so are the tests' in-memory
nodes."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from sdex.gossip.payload import fits


class OrderSet:
    def __init__(self, orders: Iterable[dict[str, str]] = ()) -> None:
        self.orders: dict[str, dict[str, str]] = {}
        self.seq: dict[str, int] = {}
        self._buckets = [0] * 256
        self._digest: list[str] | None = None
        self._listed: list[list[str]] = [[] for _ in range(256)]
        """The hashes by bucket, each sorted (``hashes_in``: no walk of every order, and a
        listing's run of an over-full bucket a slice of it)."""
        for o in orders:
            self.add(o)

    def add(self, order: dict[str, str]) -> bool:
        """Keep ``order`` (a dict with its ``"hash"``); False if it was known."""
        h = order["hash"]
        if h in self.orders:
            return False
        self.orders[h] = order
        self.seq[h] = len(self.seq) + 1
        self._buckets[int(h[2:4], 16)] ^= int(h, 16)
        bisect.insort(self._listed[int(h[2:4], 16)], h)
        self._digest = None
        return True

    def knows(self, hash_hex: str) -> bool:
        return hash_hex in self.orders

    def refused(self, peer: str, hash_hex: str) -> bool:
        return False  # (every copy is taken or known here)

    def digest(self) -> list[str]:
        if self._digest is None:
            self._digest = [f"{x:x}" for x in self._buckets]
        return self._digest

    def hashes_in(self, buckets: Iterable[int]) -> list[str]:
        return [h for b in sorted(set(buckets)) if 0 <= b < 256 for h in self._listed[b]]

    def open_orders_by_hash(self, hashes: Iterable[str], max_bytes: int) -> list[dict[str, str]]:
        out = [self.orders[h] for h in hashes if h in self.orders]
        return out[: fits(out, max_bytes)]

    async def cancel_proofs(self, hashes: Iterable[str]) -> list[dict[str, str]]:
        return []

    def snapshot_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        page = sorted((s, h) for h, s in self.seq.items() if s > after)[:limit]
        page = page[: fits((self.orders[h] for _, h in page), max_bytes)]
        return [self.orders[h] for _, h in page], (page[-1][0] if page else after)
