"""Which ``unfunded`` orders are closed past ``Limits.max_unfunded``: those of the maker
holding the most, its longest unfunded first (attack50).

The bound closed the longest unfunded first, whoever held them: an attacker's makers, each
posting its orders with the minimums and then passing the same funds on to the next key
(50 keys of 1,000 orders, one bankroll of 1,000 minimums), took the node's 50,000 in
minutes and then closed every honest order waiting for its maker's funds (a market
maker's levels past its balance, a wallet that moved its funds for a block), on every node
the orders reached: acknowledged orders gone for good, at a few dollars of gas. Now an
honest maker's few unfunded orders go only once no maker holds more than it does.
"""

from __future__ import annotations

import heapq
from itertools import count, islice


class UnfundedMakers:
    """The ``unfunded`` orders by maker (each maker's in the order they became so), and a
    heap of the makers by how many they hold (lazy: an entry whose count is no longer the
    maker's is skipped; every change pushes the new count)."""

    def __init__(self) -> None:
        self.of: dict[str, dict[bytes, None]] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._tie = count(0, -1)  # (among makers holding as many: the one whose count moved last)

    def add(self, maker: str, h: bytes) -> None:
        held = self.of.setdefault(maker, {})
        if h not in held:
            held[h] = None
            self._push(maker, len(held))

    def discard(self, maker: str, h: bytes) -> None:
        held = self.of.get(maker)
        if held is None or h not in held:
            return
        del held[h]
        if held:
            self._push(maker, len(held))
        else:
            del self.of[maker]

    def _push(self, maker: str, n: int) -> None:
        heapq.heappush(self._heap, (-n, next(self._tie), maker))
        if len(self._heap) > 4 * len(self.of) + 64:  # (stale entries: bounded)
            self._heap = [(-len(v), next(self._tie), m) for m, v in self.of.items()]
            heapq.heapify(self._heap)

    def first(self, n: int) -> list[bytes]:
        """``n`` orders to close (fewer if fewer are held), one at a time from the maker
        holding the most not yet taken, its longest unfunded first: O(n log makers)."""
        out: list[bytes] = []
        heap = self._heap
        taken: dict[str, int] = {}
        while len(out) < n and heap:
            neg, tie, maker = heapq.heappop(heap)
            held = self.of.get(maker)
            k = taken.get(maker, 0)
            if held is None or len(held) - k != -neg:
                continue  # (stale: the maker's current count has an entry of its own)
            out.append(next(islice(held, k, None)))
            taken[maker] = k + 1
            if neg < -1:
                heapq.heappush(heap, (neg + 1, tie, maker))
        for maker in taken:  # (the entries as the counts are until those orders close)
            if held := self.of.get(maker):
                heapq.heappush(heap, (-len(held), next(self._tie), maker))
        return out
