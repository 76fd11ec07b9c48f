"""Which ``unfunded`` orders are closed past ``Limits.max_unfunded``: those of the maker
holding the most, its longest unfunded first; among makers holding as many, the one
unfunded longest (attack50, review52).

The bound closed the longest unfunded first, whoever held them: an attacker's makers, each
posting its orders with the minimums and then passing the same funds on to the next key
(50 keys of 1,000 orders, one bankroll of 1,000 minimums), took the node's 50,000 in
minutes and then closed every honest order waiting for its maker's funds (a market
maker's levels past its balance, a wallet that moved its funds for a block), on every node
the orders reached: acknowledged orders gone for good, at a few dollars of gas. Now an
honest maker's few unfunded orders go only once no maker holds more than it does, and
then only if unfunded longer than theirs (review52: ties went to the maker whose count
moved last, so keys of one order each, the bound filled once, closed every honest order
that became unfunded after them, at once, for as long as theirs lived).
"""

from __future__ import annotations

import heapq
from itertools import count, islice


class UnfundedMakers:
    """The ``unfunded`` orders by maker (each maker's in the order they became so, with
    their rank in that order across makers), and a heap of the makers by how many they
    hold, then by their longest unfunded's rank (lazy: an entry no longer the maker's
    count and oldest is skipped; every change pushes the new one)."""

    def __init__(self) -> None:
        self.of: dict[str, dict[bytes, int]] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._rank = count()

    def add(self, maker: str, h: bytes) -> None:
        held = self.of.setdefault(maker, {})
        if h not in held:
            held[h] = next(self._rank)
            self._push(maker, held)

    def discard(self, maker: str, h: bytes) -> None:
        held = self.of.get(maker)
        if held is None or h not in held:
            return
        del held[h]
        if held:
            self._push(maker, held)
        else:
            del self.of[maker]

    def _push(self, maker: str, held: dict[bytes, int]) -> None:
        heapq.heappush(self._heap, _entry(maker, held))
        if len(self._heap) > 4 * len(self.of) + 64:  # (stale entries: bounded)
            self._heap = [_entry(m, v) for m, v in self.of.items()]
            heapq.heapify(self._heap)

    def first(self, n: int) -> list[bytes]:
        """``n`` orders to close (fewer if fewer are held), one at a time from the maker
        holding the most not yet taken (of those, the one whose next is unfunded longest),
        its longest unfunded first: O(n log makers)."""
        out: list[bytes] = []
        heap = self._heap
        taken: dict[str, int] = {}
        while len(out) < n and heap:
            neg, rank, maker = heapq.heappop(heap)
            held = self.of.get(maker)
            k = taken.get(maker, 0)
            if held is None or len(held) - k != -neg:
                continue  # (stale: the maker's current count has an entry of its own)
            nxt = list(islice(held.items(), k, k + 2))
            if nxt[0][1] != rank:
                continue  # (stale: its oldest has moved since)
            out.append(nxt[0][0])
            taken[maker] = k + 1
            if len(nxt) > 1:
                heapq.heappush(heap, (neg + 1, nxt[1][1], maker))
        for maker in taken:  # (the entries as the makers are until those orders close)
            if held := self.of.get(maker):
                heapq.heappush(heap, _entry(maker, held))
        return out


def _entry(maker: str, held: dict[bytes, int]) -> tuple[int, int, str]:
    """``maker``'s heap entry: its count (most first), then its oldest's rank."""
    return -len(held), next(iter(held.values())), maker
