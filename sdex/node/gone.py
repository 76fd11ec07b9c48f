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
"""Orders kept out at most: past it, those the book no longer offers or the mirror no longer
has gone leave first, then the oldest (one left out that way is at worst withdrawn once more)."""


class GoneOrders:
    """The orders found gone on chain in a block the node has not applied (``add``), kept out
    of matching while ``gone`` says so and ``offered`` (the book holds them), oldest first."""

    def __init__(
        self,
        gone: Callable[[SignedOrder], bool],
        offered: Callable[[bytes], bool],
        bound: int = MAX_GONE,
    ) -> None:
        self.gone = gone
        self.offered = offered
        self.bound = bound
        self.orders: dict[bytes, SignedOrder] = {}
        self.kept_out = 0
        """Orders kept out since the start (each counted, and logged, once)."""

    def __len__(self) -> int:
        return len(self.orders)

    def add(self, so: SignedOrder) -> bool:
        """``so`` kept out if the mirror has it gone and the book still offers it (logged
        once per order); whether it was added now."""
        h = so.hash
        if h in self.orders or not self.gone(so) or not self.offered(h):
            return False
        if len(self.orders) >= self.bound:
            self.prune()
            while len(self.orders) >= self.bound:
                del self.orders[next(iter(self.orders))]
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
        for h, so in list(self.orders.items()):
            if not self.offered(h) or not self.gone(so):
                del self.orders[h]
