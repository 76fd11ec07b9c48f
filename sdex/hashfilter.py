"""A Bloom filter of 32-byte hashes: what a node remembers in memory of what it keeps only
in its store (the closed orders it no longer holds in memory, ``sdex.node.held``; the chain
mirror's filled and cancelled amounts of orders no kept block changed, ``sdex.mirror.marks``).

A closed order's record leaves memory once its row is committed (``sdex.node.registry``);
its hash goes into ``HashFilter``, a Bloom filter: a hash it has not seen is answered "no"
with no other work, a hash it may have seen is looked up in the store (one indexed read of a
committed row). So a closed order posted again by a wallet or pushed again by a peer is still
known, for ~1.2 bytes of memory per closed order. The node sizes it at start for twice the
closed orders stored (``capacity_for``), and rebuilds it twice as large, from the store,
once more than ``capacity`` hashes are in it (past it, "maybe" grows fast: 11% at three
times, 93% at ten times, nearly every new order a store lookup).

The hashes it holds are public (closed orders), and a new order's hash is its maker's to
choose (the salt): indexed by the hash's own bits, the set bits would be known to anyone,
who could grind salts for false "maybe" answers, each a store read on the event loop. So
each filter indexes by a keyed hash (BLAKE2b, a random key of its own, never shown).
"""

from __future__ import annotations

import math
import os
from hashlib import blake2b

CAPACITY = 1_000_000
"""Closed orders the default filter holds with under 1% of false "maybe" answers (its
size, rounded up to a power of two: 2 MiB; at this load 0.05% of false "maybe")."""


def capacity_for(closed: int) -> int:
    """The capacity of a filter for ``closed`` hashes, with room for as many again."""
    return max(CAPACITY, 2 * closed)


class HashFilter:
    """A Bloom filter of 32-byte hashes, indexed by their BLAKE2b under a random key."""

    __slots__ = ("_bits", "_k", "_keyed", "_mask", "_shift", "capacity", "count")

    def __init__(self, capacity: int = CAPACITY, error: float = 0.01) -> None:
        self.capacity = capacity
        """Hashes it holds with about ``error`` false "maybe" answers (then: rebuild)."""
        bits = max(1024, math.ceil(-capacity * math.log(error) / math.log(2) ** 2))
        shift = min(32, max(10, math.ceil(math.log2(bits))))  # a power of two: a mask
        self._shift = shift
        self._mask = (1 << shift) - 1
        self._k = max(1, min(8, round((1 << shift) / capacity * math.log(2))))
        self._bits = bytearray(1 << (shift - 3))
        self._keyed = blake2b(digest_size=(self._k * shift + 7) // 8, key=os.urandom(16))
        """Keyed once: each hash is a copy of it (the key's block not compressed again)."""
        self.count = 0
        """Hashes added (the filter's load): one already in (all its bits set: added before,
        e.g. an order read back from the store and evicted again) is not counted again."""

    @property
    def size(self) -> int:
        """Bytes the filter holds."""
        return len(self._bits)

    def _index(self, h: bytes) -> int:
        """The bits the probes read (``shift`` each, lowest first), keyed."""
        keyed = self._keyed.copy()
        keyed.update(h)
        return int.from_bytes(keyed.digest(), "little")

    def add(self, h: bytes) -> None:
        bits, mask, shift = self._bits, self._mask, self._shift
        x = self._index(h)
        new = False
        for _ in range(self._k):
            i = x & mask
            bit = 1 << (i & 7)
            if not bits[i >> 3] & bit:
                bits[i >> 3] |= bit
                new = True
            x >>= shift
        self.count += new

    def __contains__(self, h: bytes) -> bool:
        """False: never added. True: added, or a false positive (look it up)."""
        bits, mask, shift = self._bits, self._mask, self._shift
        x = self._index(h)
        for _ in range(self._k):
            i = x & mask
            if not bits[i >> 3] & (1 << (i & 7)):
                return False
            x >>= shift
        return True
