"""Replace-by-fee for a settlement the chain keeps in its pool and does not mine: when it is
stuck, and how high the replacement's fees go.

A settlement *pooled* (the chain knows it, no block holds it, its nonce not used) is stuck
when the chain mines on the send (``hardhat_getAutomine`` true: anvil, Hardhat) and no block
came for ``STUCK_IDLE`` seconds (left61: anvil's automine, resumed after a pause, mines one
block of what the pool holds and then waits for a new transaction; what did not fit waited
for ``RECEIPT_TIMEOUT`` and was then replaced by a transfer of nothing), or when
``STUCK_BLOCKS`` blocks came without it (a live chain whose base fee outran its fee cap, or
whose block builders want a higher tip). It is then signed again as it was (calldata, gas,
nonce), its tip and fee cap at least 1/``BUMP`` over the last (geth and anvil refuse a
replacement under 10 %) and never under the fees the lane signs with now, recorded on the
store before it is sent as every settlement is (a restart sends each pending row again: at
most one of a nonce lands), at most ``MAX_REPLACEMENTS`` times: the fee bump is bounded. On
anvil the replacement's arrival mines a block. Hardhat refuses any send at a pooled nonce
while it automines ("Nonce too low ... can't be queued when automining"), and mines nothing of
its pool until it is sent a transaction: the lane then sends a transfer of nothing at its next
nonce (``NonceLane._nudge``), which Hardhat mines with the pool; no more tries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sdex.chain.tx import SignedTx

STUCK_IDLE = 1.0
"""Seconds without a new block, on a chain that mines on the send, after which a settlement
still pooled is replaced (such a chain mines a transaction within milliseconds)."""
STUCK_BLOCKS = 3
"""New blocks without it after which a settlement still pooled is replaced (any chain)."""
MAX_REPLACEMENTS = 4
"""Replacements of one settlement at most (fees then at most ~1.6 times the first's, or the
chain's own base fee of the moment): past them it waits for ``RECEIPT_TIMEOUT``."""
BUMP = 8
"""Each replacement's tip and base fee at least 1/``BUMP`` (12.5 %) over the last one's."""


def bumped(last: tuple[int, int], now: tuple[int, int]) -> tuple[int, int]:
    """(base fee, tip) for a replacement of a transaction signed with ``last``, the lane
    signing with ``now``: each at least 1/``BUMP`` (and 1 wei) more, never under ``now``."""
    base, tip = last
    return max(now[0], base + base // BUMP + 1), max(now[1], tip + tip // BUMP + 1)


@dataclass
class Pooled:
    """A settlement waiting for its receipt and the replacements signed for it: ``txs`` (the
    first the original) are those that may land; at most one does (one nonce)."""

    txs: list[SignedTx]
    hashes: list[str] = field(default_factory=list)
    """``txs``' hashes (shared with ``poll_receipt``, which asks for each)."""
    done: bool = False
    """No more replacements (their number reached, or the chain refused one)."""
    base: int | None = None
    """The head when the latest was sent (seen at the first check after it)."""
    head: int | None = None
    still_since: float = 0.0
    """(loop time) When ``head`` was first seen."""

    def __post_init__(self) -> None:
        self.hashes[:] = [t.tx_hash for t in self.txs]

    @property
    def latest(self) -> SignedTx:
        return self.txs[-1]

    def seen(self, head: int, now: float) -> Literal["blocks", "idle"] | None:
        """The head at a check that found the latest pooled: "blocks" when
        ``STUCK_BLOCKS`` came since it was sent, "idle" when none came for ``STUCK_IDLE``
        (stuck if the chain mines on the send), else None."""
        if self.base is None or head < self.base:  # (the first check; or a reorg, a reset)
            self.base, self.head, self.still_since = head, head, now
            return None
        if head != self.head:
            self.head, self.still_since = head, now
        if head - self.base >= STUCK_BLOCKS:
            return "blocks"
        return "idle" if now - self.still_since >= STUCK_IDLE else None

    def replaced_by(self, again: SignedTx) -> None:
        """``again`` was sent in its place: the next one is judged from its sending."""
        self.txs.append(again)
        self.hashes.append(again.tx_hash)
        self.base = None
        self.done = len(self.txs) > MAX_REPLACEMENTS
