"""Orders given the chain's word read past the mirror's head (a failed settlement's diagnosis,
a match settled short): the mirror's older word on them waits till its head is there
(``NodeReadPast._read_past_mirror``; revert78, behind77). Split from ``sdex.node.verdicts``
(recheck83), unchanged."""

from __future__ import annotations

from sdex.node.pastwords import let_go_passed, waits_for_mirror
from sdex.node.peerintake import NodePeerIntake

READ_PAST_KEPT = 10_000
"""Orders closed past the mirror kept before those the mirror passed are let go (an order
dropped from the recheck list otherwise, evicted, is not looked at again)."""


class NodeReadPast(NodePeerIntake):
    """The orders given a chain word read past the mirror, and the block of each."""

    _read_past: dict[bytes, int] | None = None
    """Orders the chain's word read past the mirror was applied to, each with the chain's
    block at that read: closed by a failed settlement's diagnosis (``_closed_by_chain``,
    ``FILLED``), or given a fill made elsewhere by it or by the read of a match settled
    short (``_filled_beyond``). The mirror's word on them waits till its head is there
    (``_read_past_mirror``): no verdict older than one applied is applied after it."""

    def _closed_past(self, h: bytes, block: int | None) -> None:
        """``h`` given the chain's word read at ``block`` (None: not known, the watcher's
        latest known block taken; the mirror is at or below it)."""
        block = self._word_block(block)
        head = self.mirror.head
        if head is None or head.number < block:
            past = self._read_past = self._read_past or {}
            let_go_passed(past, None if head is None else head.number, READ_PAST_KEPT)
            past[h] = block

    def _chain_at_most(self, latest: int) -> None:
        """The chain's latest block is ``latest``, asked after its newHeads feed was caught
        announcing a block the chain has not (``PollLoop.lied``): no chain word was read of a
        block past it, so none waits for one (sign79: ``_closed_past`` with no block took a
        far-ahead lie as the read's block, and the mirror's word on that order waited for
        ever)."""
        if past := self._read_past:
            self._read_past = {h: min(at, latest) for h, at in past.items()}

    def _read_past_mirror(self, h: bytes) -> bool:
        """Whether ``h`` was given a chain read of a block the mirror has not applied yet:
        its state there is older than that word, and must not undo it (reopen a close,
        give back a fill: revert78, an open bid's fill read a block past the node's own
        settlement taken back by the recheck at that settlement's block). behind77
        (chaos52 seed 25): a diagnosis read an ask cancelled at the chain's latest block,
        the mirror (its watcher waiting for an own receipt) one block below the cancel:
        the recheck took the mirror's "fillable" for a reorg's undoing, reopened the ask,
        and the same pair was signed again 15 ms later and reverted again."""
        head = self.mirror.head
        return waits_for_mirror(self._read_past, h, None if head is None else head.number)
