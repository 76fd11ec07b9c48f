"""How far the chain's clock runs ahead of ours, as its recent blocks show it (attack44)."""

from __future__ import annotations

import time
from collections import deque

LEAD_BLOCKS = 8
"""Blocks whose stamps count for the lead: the most any of the last this many showed. Not the
most any block ever showed (review48: one block an endpoint stamped ahead, its hash kept so
that no reorg undid it, or one a chain stamped ahead and then caught up with, moved the node's
expiry clock that far for good: orders refused and swept as expired the chain would settle).
A chain whose clock stays ahead (Hardhat after a burst of blocks) shows it again in each new
block; an idle one keeps its latest block's lead."""


class ClockLead:
    """Seconds the chain's clock is ahead of ours (0 when behind, the usual case): the most
    that its last ``blocks`` blocks showed on arrival (a block seen late shows less of it)."""

    def __init__(self, blocks: int = LEAD_BLOCKS) -> None:
        self.blocks = blocks
        self._seen: deque[tuple[int, float]] = deque()
        """(block number, lead): numbers rising, leads falling (the first is the most)."""

    @property
    def value(self) -> float:
        return self._seen[0][1] if self._seen else 0.0

    def saw(self, number: int, timestamp: int, reset: bool = False) -> None:
        """The chain's block ``number`` is stamped ``timestamp`` (its head); ``reset``: after a
        reorg or a reset, which take the chain's clock back with its blocks (the undone
        blocks' leads forgotten)."""
        lead = max(0.0, timestamp - time.time())
        seen = self._seen
        if reset:
            seen.clear()
        if seen:
            number = max(number, seen[-1][0])  # (a head seen again: no older than the last)
        while seen and seen[-1][1] <= lead:
            seen.pop()
        seen.append((number, lead))
        while seen[0][0] <= number - self.blocks:
            seen.popleft()
