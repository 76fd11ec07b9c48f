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

left60: keys of one order each never hold the most, so every honest maker holding two or
more went first (a market maker whose levels run past its balance: its best trades, the
rest wait ``unfunded`` for a fill or a deposit). Makers with an order that can trade now
(``trades``: funds held at once, which keys passing one bankroll on do not have; 50,000
keys each holding a minimum is capital locked, not a transfer each) now go last: their
unfunded orders are closed only once no other maker holds any.

attack62: ``first`` set each such maker aside and back on every call past the bound: M
makers each with an order that can trade and two ``unfunded`` (capital of a minimum each)
made every call O(M log M), 0.13-0.73 s at 30,000 of them, on every order unfunded past
the bound. A maker found trading now stays apart until ``touch`` (the registry: its open
count moved) or its own orders change.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from itertools import count, islice


class UnfundedMakers:
    """The ``unfunded`` orders by maker (each maker's in the order they became so, with
    their rank in that order across makers), and a heap of the makers by how many they
    hold, then by their longest unfunded's rank (lazy: an entry no longer the maker's
    count and oldest is skipped; every change pushes the new one). ``trades(maker)``:
    whether the maker has an order that can trade now (those makers lose last): a maker
    ``first`` finds trading moves to a heap of its own (``_trading``) and stays there
    until ``touch`` (its owner: ``trades``' answer may have changed) or a change of its
    orders puts a new entry in ``_heap`` (attack62: ``first`` set every such maker aside
    and back each call, O(M log M) past the bound for M of them)."""

    def __init__(self, trades: Callable[[str], bool] = lambda maker: False) -> None:
        self.of: dict[str, dict[bytes, int]] = {}
        self.trades = trades
        self._heap: list[tuple[int, int, str]] = []
        self._trading: list[tuple[int, int, str]] = []
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

    def touch(self, maker: str) -> None:
        """Whether ``maker`` trades may have changed: it is judged again at the next
        ``first`` (a maker set aside as trading that no longer does loses first again)."""
        if held := self.of.get(maker):
            self._push(maker, held)

    def _push(self, maker: str, held: dict[bytes, int]) -> None:
        heapq.heappush(self._heap, _entry(maker, held))
        if len(self._heap) + len(self._trading) > 4 * len(self.of) + 64:  # (stale: bounded)
            self._heap = [_entry(m, v) for m, v in self.of.items()]
            heapq.heapify(self._heap)
            self._trading = []  # (each judged again: O(makers), once in 3x as many pushes)

    def first(self, n: int) -> list[bytes]:
        """``n`` orders to close (fewer if fewer are held), one at a time from the maker
        holding the most not yet taken (of those, the one whose next is unfunded longest),
        its longest unfunded first; the makers that ``trades`` only once the others hold
        none: O(n log makers), and O(log makers) for each entry pushed since (a maker
        found trading is set aside once, not each call)."""
        out: list[bytes] = []
        taken: dict[str, int] = {}
        if n > 0:
            self._take(self._heap, n, out, taken, self._trading)
            if len(out) < n:
                self._take(self._trading, n, out, taken, None)
        for maker in taken:  # (the entries as the makers are until those orders close)
            if held := self.of.get(maker):
                heapq.heappush(self._heap, _entry(maker, held))
        return out

    def _take(
        self,
        heap: list[tuple[int, int, str]],
        n: int,
        out: list[bytes],
        taken: dict[str, int],
        later: list[tuple[int, int, str]] | None,
    ) -> None:
        """``first``'s walk of ``heap``; the makers that ``trades`` moved to ``later``
        (None: taken as the others)."""
        while len(out) < n and heap:
            neg, rank, maker = heapq.heappop(heap)
            held = self.of.get(maker)
            k = taken.get(maker, 0)
            if held is None or len(held) - k != -neg:
                continue  # (stale: the maker's current count has an entry of its own)
            nxt = list(islice(held.items(), k, k + 2))
            if nxt[0][1] != rank:
                continue  # (stale: its oldest has moved since)
            if later is not None and self.trades(maker):
                heapq.heappush(later, (neg, rank, maker))
                continue
            out.append(nxt[0][0])
            taken[maker] = k + 1
            if len(nxt) > 1:
                heapq.heappush(heap, (neg + 1, nxt[1][1], maker))


def _entry(maker: str, held: dict[bytes, int]) -> tuple[int, int, str]:
    """``maker``'s heap entry: its count (most first), then its oldest's rank."""
    return -len(held), next(iter(held.values())), maker
