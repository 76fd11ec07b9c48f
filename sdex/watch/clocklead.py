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


IDLE_GAP = 60
"""Seconds over which a gap between blocks is the chain idle (a chain mining on the send,
quiet between its users' sends), not its spacing: ``MAX_LANDING``, the most a landing is
taken to be (reorg60: a quiet devnet's gaps of minutes, their least capped there, left every
order expiring within a minute unmatched, though a settlement landed there at once)."""

STEADY = 3
"""The most the latest counted gap may be over the least for a chain mining on an interval
(a missed slot or two doubles or triples one; an earlier gap, before the interval was set,
may be longer); a latest gap more uneven is a chain mining on the send (its users' sends),
whose next block is the one a settlement makes."""


class BlockSpacing:
    """Seconds between the chain's blocks, as its last ``blocks`` heads showed them: the least
    a block took over the previous one (a head's stamp over the last head's, per block
    between them). A settlement sent now lands in the chain's next block at the earliest,
    so a match may be judged that much later (``NodeState.now``; attack50: a node that had
    not settled yet, just started or quiet for ``LANDING_MEMORY``, took its landing time as
    0 and matched, on a chain mining every few seconds, an order expiring before the next
    block: the settlement refused there, the operator paying). A chain mining at a steady
    interval shows it in every gap; one mining on the send (Hardhat's automine) shows its
    sends' gaps, uneven, or idle ones of minutes: neither is its spacing (0). Counted: the
    gaps of at most ``IDLE_GAP`` s, once two are seen, and only while the latest of them is
    at most ``STEADY`` times the least."""

    def __init__(self, blocks: int = LEAD_BLOCKS) -> None:
        self.blocks = blocks
        self._heads: deque[tuple[int, int]] = deque(maxlen=blocks)
        """(block number, timestamp) of the heads seen, numbers rising."""
        self.value = 0
        """The least whole seconds (rounded up) a block of the last heads took, as above; 0
        until two such gaps were seen."""

    def saw(self, number: int, timestamp: int, reset: bool = False) -> None:
        """The chain's head is block ``number``, stamped ``timestamp``; ``reset``: after a
        reorg or a reset (the heads before it forgotten)."""
        heads = self._heads
        if reset or (heads and (number < heads[-1][0] or timestamp < heads[-1][1])):
            heads.clear()
        if heads and number == heads[-1][0]:
            return
        heads.append((number, timestamp))
        gaps = [
            g
            for b, a in zip(heads, list(heads)[1:], strict=False)
            if (g := -((a[1] - b[1]) // -(a[0] - b[0]))) <= IDLE_GAP
        ]
        steady = len(gaps) >= 2 and gaps[-1] <= STEADY * max(1, min(gaps))
        self.value = min(gaps) if steady else 0
