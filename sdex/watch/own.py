"""The node's own receipts (and the settlements it holds ahead, ``sdex.mirror.own``) of
blocks above the chain's head: a devnet rewound below them (``evm_revert``, nothing mined
since) has dropped them, yet no block at their height will ever show the mirror so.

A chain's head below a receipt it gave is taken as a rewind as a head below our own blocks
is (``sdex.watch.fork.behind_for``): once the chain has answered so in every poll for
``BEHIND_SECONDS``, and only on a devnet. A real chain is not rewound without a new block
at that height (another hash there: ``Mirror.apply`` finds the receipt orphaned), and a
backend of it that lags keeps the receipts ahead, however long."""

from __future__ import annotations

import time
from collections.abc import Callable

from sdex.mirror import Header, Mirror
from sdex.store import ChainIdentity
from sdex.watch.fork import behind_for


class OwnBelow:
    """Since when each receipt has been above the chain's head, poll after poll."""

    def __init__(self, undoing: Callable[[], None] = lambda: None) -> None:
        self.undoing = undoing
        """Called as soon as a receipt is found gone (``Watcher.undoing``: the lane's nonce
        read again before its next signature), before the poll's reads and the node's
        applying of the drop. own76: the nonce was forgotten only once the node applied it;
        a match signed meanwhile took the dropped settlement's next nonce, past the chain's
        count (Hardhat: "Nonce too high"; anvil: pooled behind a gap, till filled)."""
        self.since: dict[tuple[str, float], float] = {}
        """By (tx hash, when its receipt was noted): a transaction dropped and noted again
        (another receipt of it) is another entry, its wait its own."""
        self.told: set[tuple[str, float]] = set()
        """Of ``since``'s, those found gone and ``undoing`` called for (once each: count77)."""

    def gone(self, mirror: Mirror, latest: Header, identity: ChainIdentity) -> list[str]:
        """The receipts (tx hashes) above ``latest`` for ``BEHIND_SECONDS`` (a devnet's):
        their blocks are gone (``Mirror.drop_own``). Called once a poll; ``undoing`` once a
        receipt found gone, not again at each poll until the drop is applied. count77: a poll
        that failed before ``drop_own`` (its block reads) called it again at every next one,
        each time forgetting the lane's nonce (every signature then waited for the sends
        under way to end, the count read again) and the durable own fills' record (the
        settler's fill writes left to the watcher)."""
        now = time.monotonic()
        above = mirror.own.above(latest.number).items()
        self.since = {k: self.since.get(k, now) for k in above}
        found = [k for k, since in self.since.items() if behind_for(since, now, identity)]
        self.told &= self.since.keys()  # (dropped, or its chain back above it: forgotten)
        if not self.told.issuperset(found):
            self.undoing()
        self.told.update(found)
        return [tx for tx, _ in found]
