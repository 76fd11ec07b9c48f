"""The settlement transactions this node sent, kept while a block the watcher applies may
still hold them (``Settler.ours``): their fills are marked as this node's.

A transaction is kept until its block is final: deeper than the mirror's reorg window
below the head the watcher applied (a reorg that re-mines it must still find it here).
Its block is known once the settler processed its receipt (``landed``); one lost, or
never sent, counts from the head of that moment. At most ``MAX_KEPT`` are kept whatever
happens (the oldest go first)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

MAX_KEPT = 50_000
"""Most transactions kept (a watcher stalled for hours: the oldest go, not memory)."""


class OwnTxs:
    """Transaction hashes in the order sent, each with the block it settled in (None while
    out)."""

    def __init__(self, cap: int = MAX_KEPT) -> None:
        self.cap = max(1, cap)
        self._txs: OrderedDict[str, int | None] = OrderedDict()

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._txs

    def __iter__(self) -> Iterator[str]:
        return iter(self._txs)

    def __len__(self) -> int:
        return len(self._txs)

    def add(self, tx_hash: str, block: int | None = None) -> list[str]:
        """``tx_hash`` sent (``block``: known mined there, or judged at); the hashes dropped
        to keep ``cap``."""
        self._txs[tx_hash] = block
        self._txs.move_to_end(tx_hash)
        dropped = []
        while len(self._txs) > self.cap:
            dropped.append(self._txs.popitem(last=False)[0])
        return dropped

    def discard(self, tx_hash: str) -> None:
        self._txs.pop(tx_hash, None)

    def landed(self, tx_hash: str, block: int) -> None:
        """``tx_hash``'s receipt was processed: mined in ``block`` (or lost, judged then)."""
        if tx_hash in self._txs:
            self._txs[tx_hash] = block

    def prune(self, final_below: int) -> list[str]:
        """Drop the transactions settled in blocks below ``final_below`` (final), oldest
        first, up to the first one out or not final yet; the hashes dropped."""
        dropped = []
        while self._txs:
            tx_hash, block = next(iter(self._txs.items()))
            if block is None or block >= final_below:
                break
            del self._txs[tx_hash]
            dropped.append(tx_hash)
        return dropped
