"""The node's catch-up as the fee reads see it (``HeadSignal``'s, split from
``sdex.chain.headsignal`` at its cap): while the node catches up (``syncing``: its start, a
reset's replay) a read past the head it knows is not judged (fee88), the settler's signed
with only under EIP-1559's highest past that head (review89, fee90), till a read is within
reach of the head the mirror's reads came to (``_anchor``)."""

from __future__ import annotations

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
    rise_from: Callable[[tuple[int, int]], tuple[int, int]]

    def __init__(self) -> None:
        self.syncing = False
        """The node catches up (its start: ``sdex.node.core``; a reset's replay): a read past
        the head it knows is not judged (fee88: ``_unjudged``) till one is within reach."""
        self._ahead: int | None = None
        """(``syncing``) The furthest block read or announced past the head this node knows."""
        self.reset_from: tuple[int, int] | None = None
        """(block number, base fee) that bounded the reads when a reset rewound (the old
        chain's; ``HeadSignal.rewound``): while the new chain is ``unbound`` (its replay) the
        settler's read is signed with only under EIP-1559's highest ``FEE_STEPS`` past it
        (``_catching_up``, never kept). fixa: review89 refused every such read ("catching
        up"), so a match made while a reset replayed went back unsent (an IOC's gone)."""

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
        after it till the chain reached N. fee93: the steps counted up to the chain's head
        the start read (fee90, proven by its block read by number: fee92) were one endpoint's
        word, a sealed header forged for that number as cheap as any (Keccak): they count
        only up to the blocks the mirror read, so a fee that rose while the node was down
        waits for the catch-up's walk (``waiting``)."""
        base = self._floor or self.read_fee  # (not a read past the head: review90)
        if self.unbound:  # (a reset's replay: the old chain's bound, never kept; fixa)
            base = self.reset_from
        if base is None:
            return f"block {number} is past the head this node knows: catching up"
        top = max(base[0], self._anchor() or 0) + FEE_STEPS  # (the blocks the mirror read)
        if fee > min(self.ceiling, highest(self.rise_from(base), top, self.ceiling)):
            return (
                f"baseFeePerGas {fee} of block {number}, past the head this node knows while"
                f" it catches up, is above EIP-1559's bounds of {base[1]} at block"
                f" {base[0]} by block {top}: not signed with till it caught up"
            )
        return None

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

    def waiting(self) -> str | None:
        """(/health's ``chainMirror.baseFee.waiting``) Why a fee read past the head this node
        knows may not be signed with yet: the node catches up (``syncing``), and a fee is
        signed with only within EIP-1559's reach of the blocks its mirror read (fee93); None:
        it does not."""
        if not self.syncing:
            return None
        known, ahead = self._anchor(), self._ahead
        to = "" if ahead is None else f" of {ahead}"
        return (
            f"catching up: the mirror read the chain to block {known}{to}; a fee past EIP-1559's"
            " reach of the blocks it read is signed with once its reads come that far"
        )

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
