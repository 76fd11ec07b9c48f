"""A price level's queue in time priority, with O(1) removal: the base of ``Level``
(``sdex.book.levels``), which adds what a level knows of prices, totals, parked orders and
all-or-nothing rests; the queue knows only arrival ``seq``, slots and which are dead.

A queue is a list with a head index, in time priority (arrival ``seq``): appends at the
tail, removal by marking the record dead (O(1)), dead records skipped from the head and
compacted away in bulk. Each record knows its slot, and the queue counts the dead slots of
each block of ``BLOCK`` slots, so that a reader finds its ``k``-th live record by skipping
whole blocks (``Queue.find``: a deep page of the book), however many slots are dead.
Generic in its records (``Queued``, the base of ``Entry``): compiled, a bound type variable
is its bound, so the queue reads their slots natively. Imports of ``sdex.book`` only
``total`` (the level's sum, its base)."""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter
from typing import Final, Generic, TypeVar

from sdex.book.total import Total


class Queued:
    """A record of a ``Queue``: its arrival ``seq`` (its time priority), its ``slot`` there
    (while it is in the queue), and whether that slot is stale (``dead``)."""

    __slots__ = ("dead", "seq", "slot")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.dead = False  # its slot in the queue is stale (at a level: closed or parked)
        self.slot = 0  # its place in the queue (while it is in the queue)


E = TypeVar("E", bound=Queued)

by_seq: Final = attrgetter("seq")
BLOCK_BITS: Final = 7
BLOCK: Final = 1 << BLOCK_BITS  # slots a queue counts the dead of together (<= 256: small ints)
BLOCK_MASK: Final = BLOCK - 1


class Queue(Total, Generic[E]):
    """Records in time priority (``queue``, sorted by ``seq``), from ``head`` on; ``live``
    counts those not dead. ``dead_in[b]`` counts the dead slots of ``queue[b * BLOCK :
    (b + 1) * BLOCK]`` (every slot before ``head`` is one): kept as slots are appended and
    marked dead (by ``Level``), counted again when the queue is rebuilt (``compact``,
    ``recount``). ``Total``: the level's sum (a base of its own, before the queue's)."""

    __slots__ = ("dead_in", "head", "live", "queue")

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[E] = []  # sorted by seq
        self.head = 0  # queue[:head] are all dead
        self.dead_in: list[int] = []  # dead slots of each block of the queue
        self.live = 0  # records in the queue not dead

    def compact(self) -> None:
        """Drop dead entries. Never called while ``sdex.matching`` walks this level."""
        queue = self.queue = [e for e in self.queue[self.head :] if not e.dead]
        self.head = 0
        for i in range(len(queue)):
            queue[i].slot = i
        self.dead_in = [0] * ((len(queue) + BLOCK_MASK) >> BLOCK_BITS)

    def recount(self) -> None:
        """Number the slots from the head on again and count each block's dead slots (the
        queue changed but at its tail). O(level), as what changed it."""
        queue = self.queue
        head = self.head
        counts = [0] * ((len(queue) + BLOCK_MASK) >> BLOCK_BITS)
        for i in range(len(queue)):
            b = i >> BLOCK_BITS
            if i < head:  # dead, maybe a stale slot of an entry that is back in the queue
                counts[b] = counts[b] + 1
            else:
                e = queue[i]
                e.slot = i
                if e.dead:
                    counts[b] = counts[b] + 1
        self.dead_in = counts

    def find(self, k: int) -> int:
        """The slot of the ``k``-th live entry of the queue (from 0; ``k < live``): whole
        blocks skipped by their counts, then at most a block's slots read, O(slots / BLOCK
        + BLOCK) whatever is dead (straight there when nothing is, from the head on)."""
        queue = self.queue
        head = self.head
        q = len(queue)
        if q - head == self.live:
            return head + k
        dead_in = self.dead_in
        b = 0
        start = 0
        while True:
            end = start + BLOCK
            if end > q:
                end = q
            n = end - start - dead_in[b]  # live slots in block ``b``
            if k < n:
                break
            k -= n
            b += 1
            start = end
        j = start if start > head else head  # (slots before the head: dead, counted)
        while True:
            if not queue[j].dead:
                if not k:
                    return j
                k -= 1
            j += 1

    def active(self) -> Iterator[E]:
        """Records in the queue (at a level: the entries that can trade now), oldest first."""
        queue = self.queue
        for i in range(self.head, len(queue)):
            e = queue[i]
            if not e.dead:
                yield e

    def clear(self) -> None:
        """Empty the queue of an emptied level (its dead slots: let the closed orders go)."""
        if self.queue:
            self.queue = []
            self.dead_in = []
        self.head = 0
