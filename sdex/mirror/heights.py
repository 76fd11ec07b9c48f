"""Keys held until the mirror's head reaches a block height each (``sdex.mirror.own``: the
orders, payers and transactions of let-go stubs), and the ones reached taken out at a cost
that grows with them, not with all those held.

settle69: ``OwnReceipts.due`` walked every key held (up to ``MAX_OVERFLOW`` orders, as many
payers, ``MAX_LET_GO_TXS`` transactions) at each block the mirror applied while any was
held, to find the few whose height was reached."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Heights(dict[K, V], Generic[K, V]):
    """A dict in insertion order (the oldest first, as a bound lets them go) whose values
    carry a height (``height``), with a heap of (height, key) beside it: ``reached`` pops
    from it. An entry changed or deleted leaves its old heap item, skipped when popped and
    cleared once the heap is more than twice the dict's size. Set only through ``[k] = v``
    (``update`` and ``setdefault`` are not used: they would bypass the heap)."""

    def __init__(self, height: Callable[[V], int]) -> None:
        super().__init__()
        self._height = height
        self._heap: list[tuple[int, int, K]] = []
        self._seq = 0  # (ties broken by when pushed: the keys need not be comparable)

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self._seq += 1
        heapq.heappush(self._heap, (self._height(value), self._seq, key))
        if len(self._heap) > 2 * len(self) + 64:  # (stale items: bounded by the live ones)
            self._rebuild()

    def reached(self, number: int) -> list[K]:
        """The keys whose height is at most ``number``, taken out."""
        out: list[K] = []
        heap = self._heap
        while heap and heap[0][0] <= number:
            n, _, key = heapq.heappop(heap)
            if key in self and self._height(self[key]) == n:
                del self[key]
                out.append(key)
        return out

    def lower_to(self, head: int, lowered: Callable[[V, int], V]) -> None:
        """Every value whose height is above ``head`` made ``lowered(value, head)`` (a walk
        over all: rare, a devnet rewound below them)."""
        for k, v in list(self.items()):
            if self._height(v) > head:
                super().__setitem__(k, lowered(v, head))
        self._rebuild()

    def clear(self) -> None:
        super().clear()
        self._heap.clear()

    def _rebuild(self) -> None:
        self._heap = []
        for k, v in self.items():
            self._seq += 1
            self._heap.append((self._height(v), self._seq, k))
        heapq.heapify(self._heap)
