"""Signed peer requests seen within the freshness window: the same signed request twice is
refused (a replay), and one sender's volume cannot make the others' requests refused.

A request's signature covers its time (``sdex.gossip.identity``: at most ``MAX_SKEW_MS``
away), so a signature need be remembered only for twice that window. The memory is bounded
(``REPLAY_MAX``) and each signature is charged to its sender (the id its key proved; ids not
in the peer table share one owner, ``STRANGERS``: keys are free to make). When it is full,
the sender at or over an equal share is refused (its own flood), and any other's request
takes the place of the oldest signature of the sender with the most: an evicted signature
could be replayed only by that sender's own volume, never an honest peer's request.

The memory is this process's: a request the last run saw would be new to it. So a request
signed before the guard was made (the node's start) is refused as a replay too
(``before_start``; attack95: one captured within 30 s before a restart was taken once more
after it, charged to its honest signer). A peer's request in flight across the restart is
refused once (its signer sends the next one signed anew). The refusal names our start
(``HEADER_STARTED``): its signer sends it once more, and its next ones, signed at that time
(``NodeKey.sign_after``; review97c: a peer whose clock ran behind ours had every request
refused for that long after our start, up to ``MAX_SKEW_MS``, each a failure of ours).
Chosen over keeping the signatures in the store: a crash would lose the last ones, and
every request would cost a write.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from sdex.gossip.identity import MAX_SKEW_MS

REPLAY_MAX = 200_000
"""Signatures remembered, all senders together (~100 bytes each)."""
WINDOW = 2 * MAX_SKEW_MS / 1000
"""Seconds a signature is remembered: a request's time may be ``MAX_SKEW_MS`` either way."""


class ReplayGuard:
    """Signatures seen within ``WINDOW``, each charged to its sender (``REPLAY_MAX``)."""

    def __init__(
        self,
        capacity: int = REPLAY_MAX,
        clock: Callable[[], float] = time.monotonic,
        since_ms: int | None = None,
    ) -> None:
        self.capacity = capacity
        self.clock = clock
        self.since_ms = int(time.time() * 1000) if since_ms is None else since_ms
        """Unix ms this guard was made at: a request signed before it is refused."""
        self._seen: OrderedDict[str, tuple[float, str]] = OrderedDict()  # oldest first
        self._by: dict[str, OrderedDict[str, None]] = {}  # sender -> its signatures, oldest first

    def __len__(self) -> int:
        return len(self._seen)

    def charged(self, sender: str) -> int:
        return len(self._by.get(sender, ()))

    def before_start(self, time_ms: int) -> bool:
        """Whether a request signed at ``time_ms`` was signed before this guard was made (a
        run before this one may have seen it: refused as a replay)."""
        return time_ms < self.since_ms

    def seen(self, signature: str) -> bool:
        """Whether ``signature`` was seen within the window (a replay); nothing remembered.
        Asked before the request's sender pays for it (``sdex.gossip.gate``: signer78, a
        replay of an honest peer's request cost that peer a token of its budget each)."""
        self._expire()
        return signature in self._seen

    def fresh(self, signature: str, sender: str) -> bool:
        """Whether ``signature`` (from ``sender``) was not seen within the window; it is
        remembered if so, unless ``sender`` is refused for its own volume (False too)."""
        self._expire()
        if signature in self._seen:
            return False
        mine = self._by.get(sender)
        if len(self._seen) >= self.capacity:
            owners = len(self._by) + (mine is None)
            if mine is not None and len(mine) * owners >= self.capacity:
                return False  # at or over an equal share: its own volume is refused
            heaviest = max(self._by, key=lambda s: len(self._by[s]))
            self._forget(next(iter(self._by[heaviest])), heaviest)
            mine = self._by.get(sender)
        if mine is None:
            mine = self._by[sender] = OrderedDict()
        mine[signature] = None
        self._seen[signature] = (self.clock(), sender)
        return True

    def _expire(self) -> None:
        horizon = self.clock() - WINDOW
        while self._seen:
            oldest, (at, by) = next(iter(self._seen.items()))
            if at >= horizon:
                break
            self._forget(oldest, by)

    def _forget(self, signature: str, sender: str) -> None:
        del self._seen[signature]
        theirs = self._by[sender]
        del theirs[signature]
        if not theirs:
            del self._by[sender]
