"""Eviction of the order registry's closed records (``sdex.node.held``): memory stays
bounded. A closed order's record leaves memory (``evict``) once its row is committed as the
record holds it and it has been closed for ``grace`` seconds, unless the book still holds it
(fills of it in flight) or a task pinned it (``pin``); its hash goes into a fixed-size filter
(``sdex.hashfilter``), rebuilt twice as large from the store when full, so that almost every
new order is known to be new without a store lookup.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sdex.book import OrderBook
from sdex.hashfilter import HashFilter, capacity_for
from sdex.node.heldrecord import Record, Row
from sdex.store import Store

CLOSED_GRACE = 10.0
"""Seconds a closed order's record stays in memory after its close (then: ``evict``)."""

GROW_RETRY = 60.0
"""Seconds before a filter rebuild that failed is tried again (each is a walk of the store)."""
EVICT_BATCH = 4096
"""Closed records looked at by one ``evict`` (one store read)."""


class HeldEviction:
    """The eviction of ``HeldOrders`` (which builds the indexes this reads and keeps)."""

    store: Store
    book: OrderBook
    records: dict[bytes, Record]
    grace: float
    evicted: HashFilter
    """The hashes of the stored orders not held in memory (closed)."""
    stored_only: int
    _by_signature: dict[str, Record]
    _by_account: dict[tuple[str, str], set[bytes]]
    _touched: set[bytes]
    _deferred: list[Row] | None
    _closing: dict[bytes, float]
    _pinned: dict[bytes, int]
    _growing: list[bytes] | None
    _grow_after: float

    def pin(self, hashes: Iterable[bytes]) -> None:
        """Keep these orders' records in memory (if held there) until ``unpin``: a task
        that loaded them and awaits (``_on_block``, a rejudge page) finds them after."""
        pinned = self._pinned
        for h in hashes:
            pinned[h] = pinned.get(h, 0) + 1

    def unpin(self, hashes: Iterable[bytes]) -> None:
        """``pin`` undone (once per ``pin``): evictable again (after another grace period)."""
        pinned = self._pinned
        for h in hashes:
            n = pinned.pop(h, 0) - 1
            if n > 0:
                pinned[h] = n

    async def evict(self, now: float | None = None) -> int:
        """Drop from memory the records closed for ``grace`` seconds whose row is committed
        as they hold it, their soft cancel's proof too (one store read), unless the book
        still holds them. How many."""
        now = time.monotonic() if now is None else now
        due: list[bytes] = []
        for h, at in self._closing.items():
            if at + self.grace > now or len(due) >= EVICT_BATCH:
                break
            due.append(h)
        if not due:
            return 0
        rows = await self.store.committed_rows(["0x" + h.hex() for h in due])
        dropped = 0
        later = time.monotonic()
        for h in due:
            rec = self.records.get(h)
            if rec is None or rec.status.is_open or h not in self._closing:
                continue  # (reopened meanwhile: not due any more)
            row, proof = rows.get(rec.signed.hash_hex, (None, ""))
            sig = rec.cancel_signature
            stale = row != rec.row() or (sig is not None and proof != "0x" + sig.hex())
            if h in self.book or h in self._pinned or stale:
                del self._closing[h]  # fills in flight, pinned, or its last change not stored:
                self._closing[h] = later  # looked at again after another grace period
                if stale and h not in self.book and self._deferred is None:
                    self._rewrite([rec], row is None)  # (its write failed: written again)
                continue
            self._drop(rec)
            dropped += 1
        if (
            self.evicted.count > self.evicted.capacity
            and self._growing is None
            and time.monotonic() >= self._grow_after
        ):
            await self._grow()
        return dropped

    def store_refused(self) -> int:
        """Queue again the rows of the orders held here whose insert the store refused
        (``Store.refused_orders``: a lock held past the busy timeout, a full disk), as
        they are now. chaos69: nothing wrote them again; an open order (a wallet's,
        answered 503 but pushed to the peers and in the book; a peer's) was traded from
        memory, left out of ``GET /v1/orders`` and forgotten at a restart. How many."""
        if self._deferred is not None:
            return 0  # (the settler's rows are held back: next time)
        held = [
            rec
            for h in dict.fromkeys(self.store.refused_orders())
            if (rec := self.records.get(bytes.fromhex(h[2:]))) is not None
        ]  # (one not held: evicted, its row committed first, stored)
        if held:  # (their updates one job: review71, a job each, each refusal logged)
            self._rewrite(held, True)
        return len(held)

    def _rewrite(self, recs: list[Record], insert: bool) -> None:
        """Queue ``recs``' rows again (their inserts too if ``insert``: no row): every write
        queued before ``evict``'s read was committed by then, so a row that differs from
        the record is one whose write failed; the next ``evict`` finds it stored. Its soft
        cancel's proof too, if it holds one (review71: a cancel taken while its row's insert
        was refused wrote its proof into no row, or had it refused too; written again
        without it, the row matched the record, which left memory, and the proof was lost)."""
        for rec in recs if insert else ():
            self.store.add_order_async(
                rec.signed, rec.seq, rec.status, rec.source, rec.tif.value, rec.json, waited=False
            )
        self.store.update_orders([rec.row() for rec in recs])
        for rec in recs:
            if rec.cancel_signature is not None:
                h = rec.signed.hash_hex
                self.store.set_cancel_signature(h, rec.cancel_signature, rec.cancel_at)

    async def _grow(self) -> None:
        """A filter for twice the hashes, built from the store (every stored hash, open
        ones too: ``held`` looks in memory first; read off the loop and off the writer
        thread), with those evicted meanwhile; then it replaces the full one. A failed
        build is tried again after ``GROW_RETRY`` seconds."""
        bigger = HashFilter(capacity_for(self.evicted.count))
        self._growing = []
        self._grow_after = time.monotonic() + GROW_RETRY
        try:
            await self.store.each_hash(bigger.add)
            for h in self._growing:
                bigger.add(h)
            self.evicted = bigger
        finally:
            self._growing = None

    def _drop(self, rec: Record) -> None:
        """``rec`` leaves memory (closed and stored): every index forgets it."""
        h = rec.signed.hash
        if self.records.get(h) is not rec:
            return  # (dropped already, or another record of it held since: that one stays)
        del self.records[h]
        self._closing.pop(h, None)
        self._touched.discard(h)
        sig = rec.json.get("signature")
        if sig is not None and self._by_signature.get(sig) is rec:
            del self._by_signature[sig]
        o = rec.signed.order
        key = (o.maker, o.maker_token)
        held = self._by_account.get(key)
        if held is not None:
            held.discard(h)
            if not held:
                del self._by_account[key]
        self.evicted.add(h)
        if self._growing is not None:
            self._growing.append(h)
        self.stored_only += 1

    def unload(self, rec: Record) -> None:
        """``rec``, read back from the store and left as stored, leaves memory at once
        (closed, not in the book; else it waits for ``evict``)."""
        h = rec.signed.hash
        if not rec.status.is_open and h not in self.book and h not in self._pinned:
            self._drop(rec)

    def forget_stored(self, closed: int, hashes: Iterable[bytes]) -> None:
        """Stored orders not loaded in memory (``closed`` of them, at a restart): known by
        the filter, sized for them (and as many again). ``hashes`` may come later, in
        slices, through ``forget``."""
        self.evicted = HashFilter(capacity_for(closed))
        self.forget(hashes)

    def forget(self, hashes: Iterable[bytes]) -> None:
        """More stored orders not loaded in memory, into the filter ``forget_stored`` made."""
        add = self.evicted.add
        n = 0
        for h in hashes:
            add(h)
            n += 1
        self.stored_only += n
