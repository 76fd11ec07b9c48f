"""Orders a settlement found gone on chain while the book still offers them (loop80).

The settler withdraws a match whose order the mirror has cancelled or filled in full on chain
(``NodeRecords._withdrawn``: before its signature, and right before its send, revert79's
``BatchTx._recheck``). Until the node applies that block the book still offers the order: the
other side, given back, was matched against it again at once, withdrawn again, and so on
(settle80: 3,700-8,700 "settlement (not sent)" lines at 400-2,000 a second behind a locked
store, until the block applied). Such an order is kept here, out of the node's re-matching
(``NodeBlame.may_match``), while the mirror still has it gone: once the node applies the block
the order leaves the book; a reorg that undoes the block makes it matchable again (looked at
again at each ask, ``out``). A wallet's new order is not matched against it either (the
engine's ``skip``, ``NodeIntake.kept_out``; loop81: it was, a withdrawal for each arrival).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sdex.order import SignedOrder

log = logging.getLogger("sdex.node")

MAX_GONE = 4096
"""Orders kept out before the first look for those to let go (``prune``): after each look,
again once they are twice as many as it left (and ``MAX_GONE`` at least). None still kept
out is let go for room (loop81: past the bound the oldest was, matched again at once by the
uncross loop, withdrawn, kept out in the place of the next oldest, and so on: loop80's loop
again, 1,800-4,000 withdrawals in 4 s): every one the book offers and the mirror has gone
stays out, so they are as many as the book holds at most (``sdex.ingest.limits``), twice
that with those it no longer offers not looked for yet."""


class GoneOrders:
    """The orders found gone on chain in a block the node has not applied (``add``), kept out
    of matching while ``gone`` says so and ``offered`` (the book holds them), oldest first;
    those no longer so let go at the first look (``out``, ``prune``) after the node's
    ``applied`` block moves (``tidy``) or their count doubles (``add``)."""

    def __init__(
        self,
        gone: Callable[[SignedOrder], bool],
        offered: Callable[[bytes], bool],
        bound: int = MAX_GONE,
        applied: Callable[[], int] = lambda: -1,
    ) -> None:
        self.gone = gone
        self.offered = offered
        self.applied = applied
        self.floor = bound
        self.bound = bound
        """Kept out, at or past which ``add`` looks for those to let go first (``floor`` at
        least, else twice as many as the last look kept)."""
        self.orders: dict[bytes, SignedOrder] = {}
        self.kept_out = 0
        """Orders kept out since the start (each counted, and logged, once)."""
        self._pruned_at = -1  # (the ``applied`` block at the last ``prune``)

    def __len__(self) -> int:
        return len(self.orders)

    def add(self, so: SignedOrder) -> bool:
        """``so`` kept out if the mirror has it gone and the book still offers it (logged
        once per order); whether it was added now."""
        h = so.hash
        if h in self.orders or not self.gone(so) or not self.offered(h):
            return False
        if len(self.orders) >= self.bound:  # (amortized: O(1) an order)
            self.prune()
            self.bound = max(self.floor, 2 * len(self.orders))
        self.orders[h] = so
        self.kept_out += 1
        log.warning(
            "order %s is gone on chain in a block not applied yet: not matched until it is",
            so.hash_hex,
        )
        return True

    def __contains__(self, h: object) -> bool:
        """``out``: a wallet's new order is not matched against it (the engine's ``skip``)."""
        return isinstance(h, bytes) and self.out(h)

    def out(self, h: bytes) -> bool:
        """Whether the order ``h`` stays out of matching: kept here and still gone as the
        mirror has it (a reorg undid its block: let go, matched again)."""
        so = self.orders.get(h)
        if so is None:
            return False
        if self.gone(so) and self.offered(h):
            return True
        del self.orders[h]
        if self.offered(h):
            log.warning("order %s is not gone on chain any more: matched again", so.hash_hex)
        return False

    def prune(self) -> None:
        """Those the book no longer offers (their block applied) or the mirror no longer has
        gone (undone) let go."""
        self._pruned_at = self.applied()
        for h, so in list(self.orders.items()):
            if not self.offered(h) or not self.gone(so):
                del self.orders[h]

    def tidy(self) -> None:
        """Those the blocks the node applied since the last look let go (``prune``): one look
        a block, at most (a wallet's new order's, ``NodeIntake.kept_out``, and ``/health``'s)."""
        if self.orders and self.applied() != self._pruned_at:
            self.prune()

    def to_json(self) -> dict[str, int]:
        """``/health``'s ``chainMirror.keptOut``: kept out now (``tidy`` first), and since the
        start."""
        self.tidy()
        return {"orders": len(self.orders), "total": self.kept_out}
