"""The orders due a recheck (``NodeVerdicts._recheck_settled``), kept in the store too
(``rechecks``: ``sdex.storememo``): a start judges again those a kill left due
(``NodeVerdicts._recheck_stored``). recheck75: held in memory only, a kill lost them, and a
closed order (one whose own settlement's block the mirror had not applied when a reorg
judged it again, one closed by a failed match's diagnosis while another match of it was in
flight) kept a filled amount the chain did not have, for good.

Held too (``hold``): the orders a block's cancel closes, until the watcher's head is saved past
that block (``release``). chaos77 (chaos52 seed 26, every fault mix): a node applied an
on-chain cancel (the order's close committed) and was SIGKILLed before its head was saved past
the block; a reorg undid the block while it was down; the restart's saved head, below it, was
still on the chain, the blocks since cancelled nothing, and the order stayed ``cancelled``
for good, fillable on chain and open at every other node. Its row makes the start judge it
again (reopened)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from sdex.mirror.state import Look, look_of
from sdex.order import SignedOrder
from sdex.store import Store, StoreError
from sdex.storerecheck import RECHECKS_READ

log = logging.getLogger("sdex.node")
RECHECKS_KEPT = RECHECKS_READ
"""Orders due a recheck held in memory at most (``Rechecks``; ~300 bytes each with their
``fresh`` and ``look`` entries: ~30 MB). Past it the oldest whose rows are committed leave
memory, their rows kept (``spilled``), and are read back as the list drains below half. No
more than a read takes (``RECHECKS_READ``: ``restore`` and ``_refilled`` tell a full read by
its length; review98b)."""
READ_BACKOFF_MOST = 32
"""Chances (a block's, a settlement's) at most between two tries of a recheck read that
keeps failing (``ReadBackoff``)."""


class ReadBackoff:
    """The chain read of the orders due a recheck that the mirror cannot judge
    (``NodeVerdicts._read_rechecks``), backed off while it fails: after ``n`` failures in a
    row, the next ``2**n - 1`` chances pass untried (``READ_BACKOFF_MOST - 1`` at most); one
    that answers ends it. The orders waiting for that word are walked only with a try
    (``walk``): nothing else gives it. recheck83: a read failing each time (an endpoint
    refusing ``getOrderStates``, a hung chain) was tried at every head and every settlement,
    the whole list walked after it (~150 ms CPU for 50,000 a head; a hung chain held each
    block's apply for the read's whole wait). Two counters, whatever the list's size."""

    def __init__(self) -> None:
        self.failures = 0
        """Reads failed in a row."""
        self._skips = 0
        """Chances still to pass untried."""
        self._tried = False
        """A read was tried since the last walk of the waiting orders began."""
        self.owed = False
        """A read was not tried in a doubt of the chain's identity: tried once it ends."""

    def due(self) -> bool:
        """Whether a read is tried at this chance (counted: each call is one)."""
        if self._skips > 0:
            self._skips -= 1
            return False
        self._tried = True
        return True

    def failed(self) -> None:
        self.failures += 1
        self._skips = min(2 ** min(self.failures, 30) - 1, READ_BACKOFF_MOST - 1)

    def answered(self, owed: bool = False) -> None:
        """A read answered (``owed``: in a doubt said since it was asked, its word not taken)."""
        self.failures = self._skips = 0
        self.owed = owed

    def walk(self) -> bool:
        """Whether the orders waiting for the chain's word are worth a walk: no read fails,
        or one was tried since the last walk (the mirror may know more: another read taught
        it their makers' funds)."""
        return self.failures == 0 or self._tried

    def walked(self) -> bool:
        """A walk begins: ``walk``, the next one waiting for a try again."""
        walk = self.walk()
        self._tried = False
        return walk


class Rechecks:
    """A set of order hashes whose rows follow it: an order added is written at once (in
    order with the rows queued before it: before the watcher's head past the block that
    added it), one taken off is deleted at ``flush`` (after the rows its judging wrote). A
    write that failed is tried again with the next. At most ``kept`` in memory (store97:
    no bound of its own; a lasting store refusal put every evicted order a block touched on
    it): past it the oldest with a committed row leave memory (counted in ``spilled``) and
    come back from the store (``_refill``) once fewer than half are held; none is dropped
    unwritten, so none is lost (a kill: the start reads the rows back, ``kept`` at most, the
    rest as the list drains)."""

    def __init__(self, kept: int = RECHECKS_KEPT) -> None:
        self.kept = min(kept, RECHECKS_READ)
        self.spilled = 0
        """Orders that left memory past ``kept``, their rows kept, not read back yet."""
        self._refilling: asyncio.Future[list[bytes]] | None = None
        self.refilled: Callable[[list[bytes]], None] | None = None
        """Called with the orders read back (the node's ``_remined_stored``)."""
        self._hashes: dict[bytes, None] = {}
        """In the order added (a pass over them: ``NodeVerdicts._drain_rechecks``)."""
        self.fresh: set[bytes] = set()
        """Of them, those added (or added again) since a walk last found them waiting for
        the chain's word: a long list's recheck looks at these at once, the others a part a
        turn of the loop (recheck81)."""
        self._store: Store | None = None
        self._added: set[bytes] = set()
        """Added, its row not written yet (or its write failed)."""
        self._dropped: set[bytes] = set()
        """Taken off, its row not deleted yet."""
        self._inflight: dict[asyncio.Future[None], set[bytes]] = {}
        """Writes not committed yet, with the hashes each adds."""
        self._deleting: dict[asyncio.Future[None], set[bytes]] = {}
        """Of them, the hashes each deletes."""
        self._gone: set[bytes] = set()
        """Taken off while a read back is in flight (``_refilled`` takes none of them back:
        review98b, one whose delete committed before the read's callback came back with no
        row, judged again, its fills mined again credited twice)."""
        self.refill_backoff = ReadBackoff()
        """The read back, backed off while the store refuses it (flushes are its chances)."""
        self.backoff = ReadBackoff()
        self._looks: dict[bytes, Look] = {}
        """Of them, those a walk found waiting for the chain's word: what the mirror needs to
        say it still cannot judge one (``look``), so a walk need not load an evicted one back
        from the store to find it waiting still (recheck84: 2.8-4.0 s CPU a walk of 50,000).
        An order's look never changes (its hash is its terms')."""
        self._held: dict[bytes, int] = {}
        """Order -> the block whose cancel closed it: its row kept until the watcher's head
        is saved at that block or past it (``release``), judged or not."""

    def attach(self, store: Store, refilled: Callable[[list[bytes]], None] | None = None) -> None:
        self._store, self.refilled = store, refilled

    def __contains__(self, h: object) -> bool:
        return h in self._hashes

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._hashes)

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, h: bytes) -> None:
        self.add_all((h,))

    def add_all(self, hashes: Iterable[bytes]) -> None:
        """``hashes`` due (again): their rows written in one write."""
        for h in hashes:
            self.fresh.add(h)  # (something new of it: looked at with the next recheck)
            if h not in self._hashes:
                self._hashes[h] = None
                self._dropped.discard(h)
                self._gone.discard(h)  # (due again: its row read back is its own)
                self._added.add(h)
        self._write()
        if len(self._hashes) > self.kept:
            self._spill()

    def _spill(self) -> None:
        """The oldest past ``kept`` whose rows are committed leave memory (their rows stay:
        read back by ``_refill``); one whose write is not committed stays (a write refused
        for good holds the block that added it: the watcher applies it again)."""
        unsure = self._added.union(*self._inflight.values())
        out: list[bytes] = []
        for h in self._hashes:
            if len(self._hashes) - len(out) <= self.kept:
                break
            if h not in unsure and h not in self._held:
                out.append(h)
        for h in out:
            del self._hashes[h]
            self.fresh.discard(h)
            self._looks.pop(h, None)
        if out and not self.spilled:
            log.warning(
                "more than %d orders due a recheck: the oldest wait in the store, read back "
                "as the list drains", self.kept,
            )  # fmt: skip
        self.spilled += len(out)

    def _refill(self) -> None:
        """Fewer than half of ``kept`` held and some spilled: the store's rows read back."""
        store = self._store
        if not self.spilled or self._refilling is not None or store is None:
            return
        if len(self._hashes) * 2 >= self.kept or not _looping():
            return
        if not self.refill_backoff.due():  # (refused lately: review98b, tried every flush)
            return
        self._gone = set()
        spilled = self.spilled
        read = asyncio.ensure_future(store.rechecks(len(self._hashes) + self.kept // 2))
        self._refilling = read
        read.add_done_callback(partial(self._refilled, spilled, len(self._hashes)))

    def _refilled(self, spilled: int, held: int, read: asyncio.Future[list[bytes]]) -> None:
        self._refilling = None
        gone, self._gone = self._gone | self._dropped, set()
        gone = gone.union(*self._deleting.values())
        if read.cancelled() or read.exception() is not None:
            self.refill_backoff.failed()
            log.warning("orders due a recheck not read back: again at a later flush")
            return
        self.refill_backoff.answered()
        rows = read.result()
        back = [h for h in rows if h not in self._hashes and h not in gone]
        self._hashes.update(dict.fromkeys(back))
        self.fresh.update(back)
        if len(rows) < held + self.kept // 2 and self.spilled == spilled:
            self.spilled = 0  # (every row read: none waits in the store alone)
        else:
            self.spilled = max(self.spilled - len(back), 1)
        if back and self.refilled is not None:
            self.refilled(back)

    def discard(self, h: bytes) -> None:
        if h not in self._hashes:
            return
        del self._hashes[h]
        self.fresh.discard(h)
        self._looks.pop(h, None)
        if self._refilling is not None:
            self._gone.add(h)
        if h in self._held:  # (its row stays: ``release`` deletes it)
            return
        self._added.discard(h)
        self._dropped.add(h)

    def waits(self, h: bytes, signed: SignedOrder | None = None) -> None:
        """``h`` waits for the chain's word (the mirror lacks its state): no longer fresh; its
        ``look`` kept (``signed``: its order, from its record)."""
        self.fresh.discard(h)
        if signed is not None and h in self._hashes and h not in self._looks:
            self._looks[h] = look_of(signed)

    def look(self, h: bytes) -> Look | None:
        """What the mirror needs to judge ``h`` (``Mirror.knows``), if a walk found it waiting."""
        return self._looks.get(h)

    def unseen(self, hashes: Iterable[bytes]) -> None:
        """``hashes``' records no longer in the store (a deleted row, an unreadable one): their
        looks dropped, so the next walk loads each, finds nothing and takes it off as before."""
        for h in hashes:
            self._looks.pop(h, None)

    def later(self, hashes: Iterable[bytes]) -> None:
        """``hashes`` (a failed read's) moved behind the others: the next read takes others
        first (one order that fails every read it is in does not hold back the rest)."""
        for h in hashes:
            if h in self._hashes:
                del self._hashes[h]
                self._hashes[h] = None

    def hold(self, hashes: Iterable[bytes], block: int) -> None:
        """Rows for ``hashes``, closed by a cancel in ``block``, written at once (before the
        rows of their closes, queued after), kept till ``release`` passes ``block``."""
        for h in hashes:
            if h not in self._held and h not in self._hashes:
                self._dropped.discard(h)
                self._added.add(h)
            self._held[h] = max(block, self._held.get(h, block))
        self._write()

    def release(self, saved: int) -> None:
        """The watcher's head is saved at ``saved``: the holds of blocks up to it end (their
        rows deleted with the next write, unless due a recheck; while some are spilled, kept:
        review97e, a spilled one held and released lost its row, never judged again)."""
        for h, block in list(self._held.items()):
            if block <= saved:
                del self._held[h]
                if h not in self._hashes and not self.spilled:  # (some spilled: it may be
                    self._added.discard(h)  # one, due; its row read back, judged, deleted)
                    self._dropped.add(h)

    def restore(self, hashes: list[bytes]) -> None:
        """Hashes read back from the store (their rows are there; ``kept`` read: maybe more,
        ``spilled``)."""
        self._hashes.update(dict.fromkeys(hashes))
        if len(hashes) >= self.kept:
            self.spilled = max(self.spilled, 1)

    def flush(self) -> None:
        """The rows of the orders taken off since the last call deleted (queued after the
        rows their judging wrote), and those whose write failed written again; spilled
        ones read back once fewer than half of ``kept`` are held."""
        self._write()
        self._refill()

    def writes(self) -> list[asyncio.Future[None]]:
        """``flush``, and the writes not committed yet: a block's changes wait for them
        before the watcher saves its head past it (one failed: the block applied again)."""
        self._write()
        return list(self._inflight)

    def _write(self) -> None:
        store = self._store
        if store is None or not (self._added or self._dropped):
            return
        added, dropped = self._added, self._dropped
        self._added, self._dropped = set(), set()
        try:
            fut = store.write_rechecks(added, dropped)
        except StoreError:  # (closed: the node stops)
            self._failed(added, dropped)
            return
        self._inflight[fut], self._deleting[fut] = added, dropped
        fut.add_done_callback(partial(self._written, added, dropped))

    def _written(self, added: set[bytes], dropped: set[bytes], fut: asyncio.Future[None]) -> None:
        self._inflight.pop(fut, None)
        self._deleting.pop(fut, None)
        if fut.cancelled() or fut.exception() is not None:
            log.warning("%d rechecks' rows not written: again with the next", len(added | dropped))
            self._failed(added, dropped)

    def _failed(self, added: set[bytes], dropped: set[bytes]) -> None:
        self._added |= {h for h in added if h in self._hashes or h in self._held}
        self._dropped |= {h for h in dropped if h not in self._hashes and h not in self._held}


def _looping() -> bool:
    """Whether an event loop runs here (a read back can be started)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
