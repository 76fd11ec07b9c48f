"""The node's catch-up as the fee reads see it (``HeadSignal``'s, split from
``sdex.chain.headsignal`` at its cap): while the node catches up (``syncing``: its start, a
reset's replay) a read past the head it knows is not judged (fee88), the settler's signed
with only under EIP-1559's highest past that head (review89, fee90), till a read is within
reach of the head the mirror's reads came to (``_anchor``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sdex.chain.feebounds import FEE_STEPS, highest


class CatchUp:
    """(``HeadSignal``'s) The catch-up's state and its judgement of reads past the head
    known; what it reads of the fee reads' state is declared here, set by ``HeadSignal``."""

    known: Callable[[], int | None]
    ceiling: int
    read_fee: tuple[int, int] | None
    _floor: tuple[int, int] | None
    _placed: int | None
    unbound: bool

    def __init__(self) -> None:
        self.syncing = False
        """The node catches up (its start: ``sdex.node.core``; a reset's replay): a read past
        the head it knows is not judged (fee88: ``_unjudged``) till one is within reach."""
        self._synced: asyncio.Event | None = None
        self._ahead: int | None = None
        """(``syncing``) The furthest block read or announced past the head this node knows."""
        self.start_head: int | None = None
        """The chain's head as the start read it (``eth_blockNumber``, the saved head proven
        ours: ``sdex.watch.watcher.Watcher.check_head``): while ``syncing`` the settler's
        read counts EIP-1559's steps from the last read up to it (``_catching_up``: a fee
        that rose while the node was down; fee90), once ``proven``; none after a reset."""
        self.saved_stamp: tuple[int, int] | None = None
        """(block number, timestamp) of the saved head proven ours at the start (set with
        ``start_head``): the start head's block is at least a second a block past it."""
        self.reset_from: tuple[int, int] | None = None
        """(block number, base fee) that bounded the reads when a reset rewound (the old
        chain's; ``HeadSignal.rewound``): while the new chain is ``unbound`` (its replay) the
        settler's read is signed with only under EIP-1559's highest ``FEE_STEPS`` past it
        (``_catching_up``, never kept). fixa: review89 refused every such read ("catching
        up"), so a match made while a reset replayed went back unsent (an IOC's gone)."""
        self.start_proven: int | None = None
        """``start_head`` once its block, read by its number (a request of its own), was a
        sealed header of that number (``prove_start``): review92, the start's one answer was
        believed up to ``CATCH_UP_BLOCKS`` past the saved head, and a read said to be that
        block at the ceiling's fee was signed with on a chain at ~1 gwei."""

    def _unjudged(self, number: int, placed: bool) -> str | None:
        """Why a read, not ``placed``, is neither signed with nor judged while ``syncing``
        (None: judged, and the catch-up over if it is within ``FEE_STEPS`` of the head this
        node knows). fee88: at each start the watcher's first read of the latest block came
        before the mirror had a head, bounded by the deploy block's fee ``FEE_STEPS``
        blocks on: an honest chain's fee was logged as not believed, counted (/health's
        ``readUntrusted``, ``refusing``), and so each read till the mirror came that far."""
        if not self.syncing:
            return None
        if placed:  # (the mirror's reads came as far as the chain was said to be)
            if self._ahead is not None and number + FEE_STEPS >= self._ahead:
                self._synced_now()
            return None
        if self._in_reach(number):
            return None
        return f"block {number} is past the head this node knows: catching up"

    def _catching_up(self, number: int, fee: int) -> str | None:
        """(``syncing``) Why the settler's read of block ``number``, past the head this node
        knows, is not signed with (None: it is; never kept, nor counted): ``fee`` above the
        highest EIP-1559 lets the chain have ``FEE_STEPS`` past that head from the last
        read. A lower fee is (a start behind a chain whose fee fell: reorg63's). review89:
        the forty-first session's end read the block by the number ``eth_blockNumber``
        said and called it ``placed``: one lying answer (a block 2,000 ahead, a fee at the
        ceiling) was signed with, and kept, "below block N read before" every honest read
        after it till the chain reached N."""
        base = self._floor or self.read_fee  # (not a read past the head: review90)
        if self.unbound:  # (a reset's replay: the old chain's bound, never kept; fixa)
            base = self.reset_from
        if base is None:
            return f"block {number} is past the head this node knows: catching up"
        top = max(base[0], self._anchor() or 0)
        if self.start_proven is not None:  # (the blocks mined while the node was down: fee90)
            top = max(top, min(number, self.start_proven))
        top += FEE_STEPS
        if fee > min(self.ceiling, highest(base, top)):
            return (
                f"baseFeePerGas {fee} of block {number}, past the head this node knows while"
                f" it catches up, is above EIP-1559's bounds of {base[1]} at block"
                f" {base[0]} by block {top}: not signed with till it caught up"
            )
        return None

    def unproven_start(self) -> int | None:
        """(``syncing``) The block whose read by number would prove ``start_head``
        (``prove_start``: the settler reads it beside its read of the latest); None: none to."""
        if not self.syncing or self.start_head is None or self.start_proven == self.start_head:
            return None
        return self.start_head

    def prove_start(self, raw: object, sealed: bool) -> None:
        """``raw``: block ``start_head`` as read by its number (``sealed``: its hash is of its
        fields, ``sdex.mirror.seal.sealed``, asked by the caller: that module imports this
        one). The steps of a fee that rose while the node was down count up to it
        (``_catching_up``) only if it is a sealed header of that number whose timestamp is at
        least a second a block past the saved head's (``saved_stamp``); else not (a null, a
        lagging backend's, a liar's word: the catch-up's ranges bring the fee in reach)."""
        head = self.start_head
        if head is None or not sealed or not isinstance(raw, dict):
            return
        number, stamp = raw.get("number"), raw.get("timestamp")
        if not (isinstance(number, str) and isinstance(stamp, str)):
            return
        if int(number, 16) != head:  # (sealed: quantities, hex)
            return
        if self.saved_stamp is not None:
            at, ts = self.saved_stamp
            if head < at or int(stamp, 16) < ts + (head - at):
                return
        self.start_proven = head

    def _in_reach(self, number: int) -> bool:
        """(``syncing``) Whether block ``number``, read or announced, is within
        ``FEE_STEPS`` of the head this node knows: the catch-up is over; else the furthest
        such block so far is what the mirror's reads must reach (``_ahead``)."""
        anchor = self._anchor()
        if anchor is not None and number <= anchor + FEE_STEPS and not self.unbound:
            self._synced_now()
            return True
        self._ahead = max(self._ahead or number, number)
        return False

    def _synced_now(self) -> None:
        self.syncing = False
        self._ahead = None
        if self._synced is not None:
            self._synced.set()

    async def synced(self, timeout: float) -> None:
        """Return once the node caught up (``syncing`` over), or after ``timeout`` seconds (a
        read past the head known then is still not signed with: ``ChainError``)."""
        if not self.syncing:
            return
        self._synced = self._synced or asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._synced.wait()

    def _anchor(self) -> int | None:
        """The highest block this node knows by its own reads: the mirror's head (``known``),
        or a block read by its number (``_placed``); None: none. review87: ``doubt``'s
        furthest block was the last kept read's own number plus ``FEE_STEPS``, so each answer
        that far past the one before was kept, a ratchet with no head behind it (ten, and
        every read of the chain's head was "below block N read before": nothing signed
        till the chain reached N); after a ``rewound``, one answer far ahead did it."""
        known = self.known()
        if self._placed is None:
            return known
        return self._placed if known is None else max(known, self._placed)
