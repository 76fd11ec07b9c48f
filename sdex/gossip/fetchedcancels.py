"""Cancels anti-entropy fetched (``flows``' ``Deliver``), taken as a pushed cancel is: the
commit of what the cancel rests on waited for, a failure counted, and the same cancel taken
again after a backoff till it is stored.

A pushed cancel's sender hears the receiver's 503 "not stored" and sends it again
(``sdex.gossip.cancelstored``, ``sdex.gossip.pushing``). One anti-entropy fetched had no one
to hear it: its result was dropped, so a store that refused or stalled on its writes left the
row unwritten (the order cancelled in memory, so no later round fetched it again) and a
restart brought the order back open here till anti-entropy found it cancelled at a peer
(gossip93). Now the driver hands each to ``FetchedCancels.take``: a commit not made within
the node's ``store_wait`` (or refused) is counted (``unstored``) and the cancel taken again
(``retried``: a repeat writes its rows again, ``Node.soft_cancel``) after ``RETRY_FIRST``
seconds, doubling up to ``RETRY_MOST``, till stored or refused (a 4xx: nothing to store; a
5xx, e.g. the store refused to read the order's row, is taken again so too: review97e, it
was dropped, the order's row never holding the cancel).
At most ``PENDING_MAX`` orders are watched so at once (one more's failure is counted,
``unretried``, and left to the restart's pull); one order's cancel is watched once at a time,
the same order's from other senders meanwhile kept (``ALTERNATES``): one of them is taken if
the watched one's is refused when taken again (gossip94: skipped, a cancel refused for its
sender, e.g. over its quota of kept cancels, left the order's row unwritten)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sdex.gossip.ports import NodePort
from sdex.sqlwriter import StoreError

log = logging.getLogger("sdex.gossip")

RETRY_FIRST = 1.0
"""Seconds before a fetched cancel whose commit failed is taken again (then doubled)."""
RETRY_MOST = 30.0
"""Seconds between two tries at most."""
PENDING_MAX = 4096
"""Orders whose fetched cancel waits to be taken again, at most (a hostile peer's cancels
are checked first: only a maker's signature gets here; a fetch's are bounded by the ask)."""
ALTERNATES = 4
"""Other senders' cancels of a watched order kept, at most (tried in turn if it is refused)."""


class FetchedCancels:
    def __init__(
        self, node: NodePort, spawn: Callable[[Coroutine[Any, Any, None], str], None]
    ) -> None:
        self.node = node
        self.spawn = spawn
        self.unstored = 0
        """Fetched cancels whose commit failed or was late (each try counted)."""
        self.retried = 0
        """Fetched cancels taken again after such a failure."""
        self.unretried = 0
        """Failed ones not retried: ``PENDING_MAX`` others waited (the restart's pull)."""
        self._pending: dict[str, list[tuple[str, object]]] = {}
        """Watched orders, each with its other senders' cancels (``ALTERNATES``)."""
        self._senders: dict[str, set[str]] = {}
        """Each watched order's senders so far, the watched one's included (review96c: its
        own sender's later cancel was kept as an alternate, a slot spent on a cancel taken
        again after the same sender's refusal)."""

    def take(self, sender: str, notice: object) -> None:
        """``notice`` (a soft cancel ``sender`` answered a fetch with) to the node; its
        commit watched (``_watch``) unless a retry of the same order's is under way."""
        key = _key(notice)
        others = self._pending.get(key)
        if others is not None:  # (the one under way stores it: no second write; this one
            senders = self._senders[key]  # if refused, unless its sender's was one)
            if len(others) < ALTERNATES and sender not in senders:
                senders.add(sender)
                others.append((sender, notice))
            return
        result = self.node.cancel_notice(notice, sender)
        if not _again(result.status) and (result.status >= 300 or result.stored is None):
            return
        if len(self._pending) >= PENDING_MAX:  # (no task: counted if it fails)
            if result.stored is not None:
                result.stored.add_done_callback(self._unwatched)
            else:
                self._unwatched(None)
            return
        self._pending[key], self._senders[key] = [], {sender}
        self.spawn(self._watch(sender, notice, key, result.stored), "gossip-fetched-cancel")

    def _unwatched(self, stored: asyncio.Future[None] | None) -> None:
        if stored is None:
            e: BaseException | None = StoreError("refused for now (503)")
        else:
            e = None if stored.cancelled() else stored.exception()
        if e is not None:
            self.unstored += 1
            self.unretried += 1
            log.warning("a fetched cancel was not stored: %s (not taken again: %d wait)", e,
                        PENDING_MAX)  # fmt: skip

    async def _watch(
        self, sender: str, notice: object, key: str, stored: asyncio.Future[None] | None
    ) -> None:
        """Wait for ``stored`` (None: the node answered 5xx, e.g. its store refused to read
        the order's row); a failure counted and the cancel taken again after a backoff (the
        node's repeat writes its rows again), till it is stored."""
        wait = RETRY_FIRST
        try:
            while True:
                try:
                    if stored is None:
                        raise StoreError("the node answered 503: try again")
                    await asyncio.shield(stored)
                    return
                except StoreError as e:
                    self.unstored += 1
                    log.warning("a fetched cancel (%.80s) was not stored: %s; taken again in "
                                "%g s", key, e, wait)  # fmt: skip
                await asyncio.sleep(wait)
                wait = min(2 * wait, RETRY_MOST)
                self.retried += 1
                result = self.node.cancel_notice(notice, sender)
                while 300 <= result.status < 500 and (others := self._pending.get(key)):
                    sender, notice = others.pop(0)  # (refused for its sender: another's)
                    result = self.node.cancel_notice(notice, sender)
                if _again(result.status):
                    stored = None  # (review97e: a 503 was taken as final, the cancel lost)
                    continue
                if result.status >= 300 or result.stored is None:
                    return  # (refused now, or nothing left to store)
                stored = result.stored
        finally:
            self._pending.pop(key, None)
            self._senders.pop(key, None)

    def to_json(self) -> dict[str, int]:
        return {
            "fetchedCancelsUnstored": self.unstored,
            "fetchedCancelsRetried": self.retried,
            "fetchedCancelsUnretried": self.unretried,
        }


def _again(status: int) -> bool:
    """An answer to try again later (a 5xx: the node's store refused to read the order's
    row, ``Node.soft_cancel``'s 503; review97e: taken as a refusal, the cancel dropped)."""
    return status >= 500


def _key(notice: object) -> str:
    """The order a cancel notice names (bounded: the node refuses a longer one)."""
    h = notice.get("orderHash") if isinstance(notice, dict) else None
    return h[:80].lower() if isinstance(h, str) else ""
