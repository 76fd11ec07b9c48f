"""What the watcher reports to the node: the changes of the blocks it applied (and undid),
and the error of a chain it cannot follow."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sdex.chain import FillEvent
from sdex.errors import ChainError
from sdex.futures import retrieved
from sdex.mirror import Account
from sdex.store import StoredFill

T = TypeVar("T")


@dataclass
class BlockChanges:
    """What the blocks applied in one poll changed (and, after a reorg, what was undone)."""

    head: int
    head_hash: str
    timestamp: int
    fills: list[FillEvent] = field(default_factory=list)
    cancelled: set[bytes] = field(default_factory=set)
    makers_cancelled_up_to: set[str] = field(default_factory=set)
    funds: set[Account] = field(default_factory=set)
    """Accounts whose balance or allowance changed in the mirror (re-read, or moved by
    one of the node's own settlements)."""
    reread: set[Account] = field(default_factory=set)
    """Of those, the accounts read again from the chain (at the head's block)."""
    reverted: list[StoredFill] = field(default_factory=list)
    """Fills of undone blocks, deleted from the store."""
    rejudge: set[bytes] = field(default_factory=set)
    """Orders an undone block had filled or cancelled: read them again from the mirror."""
    reorg_depth: int = 0
    own_gone: bool = False
    """An own settlement's block is not on the chain (``Effects.orphaned``, or dropped by
    ``sdex.watch.own``): the nonce it used may be free again."""
    fork: int = -1
    """After a reorg: the highest block both branches share."""
    reset: bool = False
    """The chain was reset: every order must be judged again (the mirror starts over)."""
    walked: dict[str, int] = field(default_factory=dict)
    """How far the node's walk of stored closed orders went (``""``: every maker's, after a
    reset; else one maker's, after its cancel-up-to): the arrival sequence judged up to, -1
    once through. Changes applied again (a failure later on) resume the walk there."""
    low: int = -1
    """The lowest block applied (-1: none): the fills of blocks ``low``..``head`` are all in
    ``fills`` (``sdex.watch.falsefills``)."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Own receipts (tx hash) a devnet's rewind dropped (``sdex.watch.own``), with the
    chain's head then: their fills above it are deleted (``sdex.watch.falsefills``); kept
    with the changes till that is done, the receipts being gone from the mirror."""
    applied: bool = False
    """Some block of these changes was applied to the mirror (``Watcher._took``)."""
    kept: bool = False
    """Kept (``Watcher._keep``) for the next poll already: not kept twice."""
    stored: list[Awaitable[object]] = field(default_factory=list)
    """The writes the node queued while applying these changes (``fills``, and the order
    rows it closed or moved): the watcher saves its head only once they are durable (one
    that failed: the fills are applied again, ``fills_only``, and the node writes the
    refused rows again first), so a restart never starts past a block whose fills or
    closes are lost."""

    def fills_only(self) -> BlockChanges:
        """These changes' fills alone, to be applied (stored) again."""
        return BlockChanges(self.head, self.head_hash, self.timestamp, fills=list(self.fills))

    def merge(self, later: BlockChanges) -> None:
        """Fold ``later`` (changes read after these) into these."""
        if later.fork >= 0:  # earlier fills above the fork are gone with their blocks
            self.rejudge |= {f.order_hash for f in self.fills}
            self.fills = [f for f in self.fills if f.block_number <= later.fork]
            self.fork = later.fork if self.fork < 0 else min(self.fork, later.fork)
        self.fills.extend(later.fills)
        self.cancelled |= later.cancelled
        self.makers_cancelled_up_to |= later.makers_cancelled_up_to
        self.funds |= later.funds
        self.reread |= later.reread
        self.reverted.extend(later.reverted)
        self.rejudge |= later.rejudge
        for tx, below in later.dropped.items():
            self.dropped[tx] = min(below, self.dropped.get(tx, below))
        self.reorg_depth = max(self.reorg_depth, later.reorg_depth)
        self.own_gone = self.own_gone or later.own_gone
        self.reset = self.reset or later.reset
        self.applied = self.applied or later.applied
        if later.low >= 0:
            self.low = later.low if self.low < 0 or later.reset else min(self.low, later.low)
        if later.reset or later.fork >= 0:  # the walks start over on what the chain now says
            self.walked.clear()
        for maker in later.makers_cancelled_up_to:
            self.walked.pop(maker, None)
        if later.reset:  # the old chain's fills are gone with it
            self.fills = list(later.fills)


ApplyCallback = Callable[[BlockChanges], Awaitable[None]]


class ChainReset(ChainError):
    """The chain is not the one we followed and cannot be followed (wrong chain id, or the
    Exchange is not deployed there)."""


STORE_WAIT = 10.0
"""Seconds the watcher waits for the store's writer to commit what a poll wrote (a block's
rows, the mirror's head) before ``/health`` says so (``failing``): it waits on, however long
it takes (the head never moves past a write not committed), and is ``ok`` once it is."""


async def durable(aw: Awaitable[T], bound: float, slow: Callable[[], None]) -> T:
    """``aw`` awaited to its end, ``slow()`` called once if that takes over ``bound``
    seconds. A future (``gather`` of the store's) is never cancelled here (as ``shield``); a
    coroutine's task is, with the caller."""
    fut = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({fut}, timeout=bound)
        if not done:
            slow()
            await asyncio.wait({fut})
    except asyncio.CancelledError:
        if fut is not aw:  # (a task made here: nobody else awaits it)
            fut.cancel()
        else:  # (a stop cancels what it gathers next: its end is nobody's to log)
            fut.add_done_callback(retrieved)
        raise
    return fut.result()
