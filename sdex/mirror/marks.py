"""The mirror's filled amount and cancel flag per order hash, bounded in memory.

Every order the chain ever filled or cancelled has a row in the store (``mirror_orders``,
saved with the head). In memory are only the hashes a kept block changed (the reorg window
undoes them from its undo lists), those changed since the last save, and a bounded cache of
rows read back. Once saved and out of the window, a hash leaves memory (``evict``) and goes
into a Bloom filter (``sdex.hashfilter``): a hash it has never seen (almost every new order)
is answered (0, not cancelled) with no other work; a hash it may have seen is one indexed
read of its committed row (``lookup``). So an evicted order that comes back (posted again,
named by a reorg) is judged from its stored row: a filled or cancelled order stays closed.
The watcher rebuilds the filter twice as large from the store once past its capacity.

A stored row this node does not write (``Lookup`` raises ``ValueError``: a disk error, an
edit, an older version's bug) is taken as unknown, with a warning: the hash joins ``unknown``
(the mirror judges no order of it: the chain does, ``Mirror.state``), counts from 0 for the
blocks that change it, and is never saved over the row (its sum would be believed). Before,
its read raised wherever the order was named: in the watcher's poll, tried again forever.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable

from sdex.hashfilter import CAPACITY, HashFilter

Lookup = Callable[[bytes], "tuple[int, bool] | None"]
"""A committed ``mirror_orders`` row by hash: (filled, cancelled), None if there is none;
``ValueError`` for a row that is not what this node writes."""

log = logging.getLogger("sdex.mirror")

MAX_CACHED = 16_384
"""Rows read back from the store kept in memory (the oldest go first)."""


class OrderMarks:
    """Filled amounts and cancel flags by order hash: resident ones in ``filled`` (every
    resident hash has an entry there, 0 included) and ``cancelled``; the rest in the store."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.filled: dict[bytes, int] = {}
        self.cancelled: set[bytes] = set()
        self.window: dict[bytes, int] = {}
        """Undo records of each hash in the kept blocks (such a hash stays resident)."""
        self.idle: set[bytes] = set()
        """Resident hashes out of the window: evicted once saved."""
        self.cache: OrderedDict[bytes, tuple[int, bool]] = OrderedDict()
        """Rows read back from the store (not resident: a change makes them resident)."""
        self.evicted = HashFilter(capacity)
        """Hashes evicted with a non-zero row (a zero row is the default answer anyway)."""
        self.lookup: Lookup | None = None
        """The store's committed row of a hash; none: nothing is ever evicted."""
        self.unknown: set[bytes] = set()
        """Hashes whose stored row was unreadable: the chain's word, not ours (``read``)."""
        self.lookups = 0
        self.evictions = 0

    def get(self, h: bytes) -> tuple[int, bool]:
        """(filled, cancelled) of an order hash."""
        f = self.filled.get(h)
        if f is not None:
            return f, h in self.cancelled
        row = self.cache.get(h)
        if row is not None:
            return row
        if self.lookup is None or not self.evicted.count or h not in self.evicted:
            return 0, False  # (an empty filter: no keyed hash, ~1 us a new order)
        if h in self.unknown:
            return 0, False
        row = self.read(h)
        if row is None:  # a false "maybe" (possibly ground for), or unknown: not kept
            return 0, False
        if len(self.cache) >= MAX_CACHED:  # (O(1): a plain dict's first key is a scan)
            self.cache.popitem(last=False)
        self.cache[h] = row
        return row

    def take(self, h: bytes) -> tuple[int, bool]:
        """Make ``h`` resident (it is about to change); its (filled, cancelled). Its cached
        row, if any, leaves the cache (a change would make it stale)."""
        f = self.filled.get(h)
        if f is not None:
            return f, h in self.cancelled
        row = self.cache.pop(h, None)
        if row is None:
            ev = self.evicted
            if self.lookup is None or not ev.count or h not in ev or h in self.unknown:
                self.filled[h] = 0  # (most often: never seen)
                return 0, False
            row = self.read(h) or (0, False)
        f, c = row
        self.filled[h] = f
        if c:
            self.cancelled.add(h)
        return f, c

    def read(self, h: bytes) -> tuple[int, bool] | None:
        """``h``'s stored row; None if none, or if it is unreadable (then ``h`` is unknown)."""
        assert self.lookup is not None
        self.lookups += 1
        try:
            return self.lookup(h)
        except ValueError as e:
            self.unknown.add(h)
            log.warning(
                "the saved mirror row of order 0x%s is unreadable (%s): ignored, the order "
                "is judged by the chain",
                h.hex(),
                e,
            )
            return None

    def load(self, h: bytes) -> None:
        """``take`` ahead of a change (the store read, if any, before the mirror changes);
        left idle: evicted again after the next save unless a kept block changes it."""
        if h not in self.filled:
            self.take(h)
            if h not in self.window:
                self.idle.add(h)

    def refilter(self, evicted: HashFilter) -> None:
        """A filter rebuilt from the store replaces the old one (the cache is dropped: the
        rebuilt filter need not hold a cached hash, so ``take`` could not trust it)."""
        self.evicted = evicted
        self.cache.clear()

    def hold(self, h: bytes) -> None:
        """A kept block changed ``h`` (it stays resident while that block is kept)."""
        self.window[h] = self.window.get(h, 0) + 1
        self.idle.discard(h)

    def release(self, h: bytes) -> None:
        """A kept block that changed ``h`` left the window (final, or undone)."""
        n = self.window.get(h, 0) - 1
        if n > 0:
            self.window[h] = n
            return
        self.window.pop(h, None)
        if h in self.filled:
            self.idle.add(h)

    def settle(self, hashes: Iterable[bytes]) -> None:
        """Final blocks (no undo) changed these hashes."""
        for h in hashes:
            if h not in self.window:
                self.idle.add(h)

    def evict(self, unsaved: set[bytes]) -> int:
        """Drop from memory the idle hashes whose rows are committed (not in ``unsaved``);
        how many left. Called once the store saved the mirror's changes."""
        if self.lookup is None:  # nothing leaves memory (nowhere to read it back from)
            self.idle.clear()
            return 0
        keep: set[bytes] = set()
        n = 0
        for h in self.idle:
            if h in unsaved or h in self.window:
                keep.add(h)
                continue
            f = self.filled.pop(h, 0)
            if h in self.cancelled:
                self.cancelled.discard(h)
                self.evicted.add(h)
            elif f:
                self.evicted.add(h)
            n += 1
        self.idle = keep
        self.evictions += n
        return n

    @property
    def full(self) -> bool:
        """The filter holds more than its capacity (false "maybe" answers grow): rebuild."""
        return self.evicted.count > self.evicted.capacity

    def clear(self) -> None:
        self.filled.clear()
        self.cancelled.clear()
        self.window.clear()
        self.idle.clear()
        self.cache.clear()
        self.unknown.clear()
        self.evicted = HashFilter(self.evicted.capacity)

    def stats(self) -> dict[str, int]:
        """``orders``: the marks held in memory now (the rest are in the store)."""
        return {
            "orders": len(self.filled),
            "ordersCached": len(self.cache),
            "ordersEvicted": self.evictions,
            "evictedLookups": self.lookups,
            "filterBytes": self.evicted.size,
        }
