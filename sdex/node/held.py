"""The records the order registry (``sdex.node.registry``) holds in memory, their indexes
and lookups, their JSON, and their eviction once closed and stored.

Memory stays bounded: a closed order's record is evicted (``evict``) once its row is
committed and it has been closed for ``grace`` seconds, unless the book still holds it
(fills of it in flight). What is evicted is read from the store when asked for (``held``,
``stored``, ``json_of``; ``OrderRegistry.load`` takes one back), and its hash is kept in a
fixed-size filter (``sdex.hashfilter``) so that almost every new order is known to be new
without a store lookup.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _string

from sortedcontainers import SortedDict

from sdex.book import BookOrderState, OrderBook
from sdex.hashfilter import HashFilter, capacity_for
from sdex.matching.match import TimeInForce
from sdex.model import MAX_SIGNATURE_BYTES, OPEN_STATUSES, OrderStatus
from sdex.node.events import Event, EventHub, encode_json
from sdex.order import SignedOrder
from sdex.store import Store, StoredOrder

Row = tuple[str, str, int, str]
"""A store update: (hash hex, status, filled, reason)."""


class AlreadyHeld(ValueError):
    """An order accepted again while it is held (in memory or evicted)."""


@dataclass(slots=True)
class Record:
    """What the node remembers of an accepted order, also after it left the book.

    ``status``, ``filled`` and ``reason`` are the order's as stored and published, changed
    only by ``OrderRegistry``; while the book holds the order open, its live fill state is
    the book's (``OrderRegistry.meta``)."""

    signed: SignedOrder
    seq: int
    source: str
    status: OrderStatus = OrderStatus.OPEN
    filled: int = 0
    reason: str = ""
    created_at: float = field(default_factory=time.time)
    failures: int = 0
    cancel_signature: bytes | None = None
    """The maker's soft-cancel signature, kept to prove the cancel to peers."""
    cancel_stored: bool = False
    """A wallet's cancel of it (signature and closed status) is committed: a repeat, or a
    replay of the public signature, writes nothing more."""
    tif: TimeInForce = TimeInForce.GTC
    announced: bool = False
    """Gossiped (or received by gossip): only an order that rests is ever announced, and
    only announced open orders are offered to peers (snapshot, digest, fetch)."""
    json: dict[str, str] = field(init=False, repr=False)
    json_text: str | None = field(default=None, init=False, repr=False)
    """The order's JSON text (``json`` encoded as ``json.dumps`` does), once needed."""

    def __post_init__(self) -> None:
        self.json = self.signed.to_json()

    def text(self) -> str:
        """The order's JSON text, encoded once for all its uses: the store's row, every
        websocket event of the order, the gossip pushes to every peer (~7 us each)."""
        if self.json_text is None:
            self.json_text = encode_json(self.json)
        return self.json_text

    def row(self) -> Row:
        return (self.signed.hash_hex, self.status, self.filled, self.reason)

    @classmethod
    def of_stored(cls, s: StoredOrder) -> Record:
        """A stored order's record (``NEW``: the registry admits it with ``s.status``)."""
        rec = cls(s.signed, s.seq, s.source, OrderStatus.NEW, s.filled, s.reason, s.created_at)
        rec.tif, rec.cancel_signature = _TIFS.get(s.tif, TimeInForce.GTC), s.cancel_signature
        return rec


_TIFS = {t.value: t for t in TimeInForce}

CLOSED_GRACE = 10.0
"""Seconds a closed order's record stays in memory after its close (then: ``evict``)."""

GROW_RETRY = 60.0
"""Seconds before a filter rebuild that failed is tried again (each is a walk of the store)."""
EVICT_BATCH = 4096
"""Closed records looked at by one ``evict`` (one store read)."""


class HeldOrders:
    """The records held in memory: by hash, by signature, by (maker, maker token); the
    open-order counts and the gossip digest (kept by ``OrderRegistry``'s transitions)."""

    store: Store
    book: OrderBook

    def __init__(self, events: EventHub) -> None:
        self.events = events
        self.records: dict[bytes, Record] = {}
        self.maker_open: dict[str, int] = {}
        """Open orders per maker (the per-maker limit), kept by every transition."""
        self.open_orders = 0
        """Open orders in all: ``sum(maker_open.values())`` (read per order by intake)."""
        self._by_signature: dict[str, Record] = {}
        self._by_account: dict[tuple[str, str], set[bytes]] = {}
        """Order hashes by (maker, maker token): the orders a funds change touches."""
        self._unfunded: dict[tuple[str, str], set[bytes]] = {}
        """The ``unfunded`` records by (maker, maker token): those funds freed may reopen."""
        self._digest = [0] * 256
        """The gossiped orders' (announced and open) hashes XORed by first byte: the
        anti-entropy digest, kept as orders join and leave that set (walking every open
        order for each digest cost a node 6-9% of its loop at 4,000 open orders)."""
        self._buckets: list[set[bytes]] = [set() for _ in range(256)]
        """The gossiped orders' hashes by first byte (``hashes_in``)."""
        self._gossiped = SortedDict()
        """The gossiped orders by arrival ``seq`` (``gossiped_after``: a peer's snapshot page
        is a range of it, not a sort of every open order per page)."""
        self._touched: set[bytes] = set()
        """Orders a book change touched since the last ``sync``."""
        self._deferred: list[Row] | None = None
        self.grace = CLOSED_GRACE
        self._closing: dict[bytes, float] = {}
        """Closed records held in memory, by hash, with when they closed (oldest first)."""
        self._pinned: dict[bytes, int] = {}
        """Records a task needs across its awaits (``pin``): never evicted meanwhile."""
        self.evicted = HashFilter()
        """The hashes of the stored orders not held in memory (closed)."""
        self._growing: list[bytes] | None = None
        self._grow_after = 0.0
        """(monotonic) No filter rebuild before this: one failed (``GROW_RETRY``)."""
        """While a larger filter is built from the store: the hashes evicted meanwhile."""
        self.lookups = 0
        """Store lookups ``held`` made (the filter said "maybe")."""
        self.stored_only = 0
        """Orders stored and not held in memory (evicted, or closed before a restart)."""

    def attach(self, store: Store, book: OrderBook) -> None:
        """The store rows are written to and the book fill states are read from."""
        self.store = store
        self.book = book

    # ---- lookups -----------------------------------------------------------------------

    def get(self, order_hash: bytes) -> Record | None:
        """The record held in memory (open, or closed a short while ago)."""
        return self.records.get(order_hash)

    def at(self, hash_hex: str) -> Record | None:
        """The record of a hash a peer named (0x-hex; anything else names nothing)."""
        h = hash_of(hash_hex)
        return None if h is None else self.records.get(h)

    def held(self, order_hash: bytes) -> bool:
        """Whether this node accepted the order: in memory, or evicted (then stored)."""
        if order_hash in self.records:
            return True
        evicted = self.evicted  # (empty: a node that never evicted pays one attribute read)
        if not evicted.count or order_hash not in evicted:
            return False
        self.lookups += 1
        return self.store.holds_now("0x" + order_hash.hex())

    def stored(self, order_hash: bytes) -> StoredOrder | None:
        """An evicted order as stored (None if it is in memory, or was never accepted)."""
        if order_hash in self.records or order_hash not in self.evicted:
            return None
        self.lookups += 1
        return self.store.order_now("0x" + order_hash.hex())

    def json_of(self, order_hash: bytes, s: StoredOrder | None = None) -> dict[str, object] | None:
        """``{"order", "metaData"}`` from memory, else from the store (``s``: its row, if
        the caller read it), without loading it back."""
        rec = self.records.get(order_hash)
        if rec is None:
            s = s if s is not None else self.stored(order_hash)
            if s is None:
                return None
            rec = Record.of_stored(s)
            rec.status = OrderStatus(s.status)
        return self.record_json(rec)

    @property
    def total(self) -> int:
        """Orders accepted and held, in memory or evicted (since the node started)."""
        return len(self.records) + self.stored_only

    def by_signature(self, signature: str) -> Record | None:
        """The order with this 65-byte signature (0x-hex as in its JSON), if held here."""
        return self._by_signature.get(signature)

    def holds_account(self, account: tuple[str, str]) -> bool:
        """Whether some order held here sells ``account``'s token for its maker."""
        return account in self._by_account

    def open_count(self, maker: str | None) -> int:
        return self.open_orders if maker is None else self.maker_open.get(maker, 0)

    def open_records(self) -> Iterator[Record]:
        return (r for r in self.records.values() if r.status in OPEN_STATUSES)

    def gossiped_records(self) -> Iterator[Record]:
        """Open orders that rest and were announced: the only ones peers are shown."""
        return (r for r in self.records.values() if r.announced and r.status in OPEN_STATUSES)

    def gossiped_after(self, after: int, limit: int) -> list[Record]:
        """Up to ``limit`` gossiped orders with ``seq`` above ``after``, oldest first."""
        start = self._gossiped.bisect_right(after)
        return list(self._gossiped.values()[start : start + max(0, limit)])

    def digest(self) -> list[str]:
        """256 buckets (by the hash's first byte), each the XOR of the hashes of the
        gossiped orders in it."""
        return [f"{x:x}" for x in self._digest]

    def hashes_in(self, buckets: set[int]) -> list[str]:
        """The gossiped orders' hashes (0x-hex) in these buckets."""
        return ["0x" + h.hex() for b in sorted(buckets) if 0 <= b < 256 for h in self._buckets[b]]

    def announce(self, rec: Record) -> None:
        """``rec`` is gossiped from now on (offered to peers while it is open). Not one
        whose signature is over ``MAX_SIGNATURE_BYTES`` (a row an older version stored):
        it rests and trades here, but peers refuse it: offered, it would cost each peer a
        fetch every anti-entropy round (this node its standing, where taken for forged)."""
        if not rec.announced and len(rec.signed.signature) <= MAX_SIGNATURE_BYTES:
            rec.announced = True
            if rec.status in OPEN_STATUSES:
                self._flip(rec)

    def _flip(self, rec: Record) -> None:
        """``rec`` joined or left the gossiped set."""
        h = rec.signed.hash
        self._digest[h[0]] ^= int.from_bytes(h, "big")
        bucket = self._buckets[h[0]]
        if h in bucket:
            bucket.remove(h)
            self._gossiped.pop(rec.seq, None)
        else:
            bucket.add(h)
            self._gossiped[rec.seq] = rec

    # ---- the JSON of a record ------------------------------------------------------------

    def meta(self, rec: Record, st: BookOrderState | None = None) -> dict[str, object]:
        """``metaData``: the book's live fill state while it holds the order open (``st``:
        the book's view of it, if the caller just read it; else read here)."""
        if st is None:
            st = self.book.get(rec.signed.hash)
        o = rec.signed.order
        if st is not None and st.closed is None:
            status, filled, fillable, pending = st.status, st.filled, st.fillable, st.pending
        else:
            status, filled, fillable = rec.status, rec.filled, 0
            pending = st.pending if st is not None else 0
        return {
            "orderHash": rec.signed.hash_hex,
            "status": status,
            "filledMakerAmount": str(filled),
            "pendingMakerAmount": str(pending),
            "remainingFillableMakerAmount": str(fillable),
            "remainingMakerAmount": str(o.maker_amount - filled),
            "createdAt": rec.created_at,
            "source": rec.source,
            "reason": rec.reason,
        }

    def record_json(self, rec: Record) -> dict[str, object]:
        return {"order": rec.signed.to_json(), "metaData": self.meta(rec)}

    def record_text(self, rec: Record) -> str:
        """``encode_json(record_json(rec))``, the same text made ~5x faster: the order's
        text is the record's own (``Record.text``) and ``metaData`` is formatted directly
        (``meta_text``; a listing page is a join of these, ``sdex.node.pages``)."""
        st = self.book.get(rec.signed.hash)
        if st is not None and st.closed is None:
            status, filled, fillable, pending = st.status, st.filled, st.fillable, st.pending
        else:
            status, filled, fillable = rec.status, rec.filled, 0
            pending = st.pending if st is not None else 0
        meta = meta_text(
            rec.signed.hash_hex, status, filled, pending, fillable,
            rec.signed.order.maker_amount - filled, rec.created_at, rec.source, rec.reason,
        )  # fmt: skip
        order = rec.json_text or encode_json(rec.json)  # (a closed record's is not kept)
        return f'{{"order": {order}, "metaData": {meta}}}'

    def publish(
        self,
        rec: Record,
        event: str,
        st: BookOrderState | None = None,
        meta: dict[str, object] | None = None,
    ) -> None:
        """An order event on the websocket: ``event`` and the record's JSON (``st``: as
        for ``meta``; ``meta``: the record's ``metaData`` if the caller just made it), its
        ``metaData`` with ``publishedAt``: Unix time (seconds, this node's clock) when the
        event was published, and on the websocket ``sentAt``, when its text was made for
        the first subscriber it is written to (``_order_event_text``): bench/gossip.py
        times each hop by them on one machine. (Wall time, not the monotonic clock, which
        would tell every subscriber the host's uptime.) Built only if someone listens; the
        order's text encoded once per record."""
        self.events.publish_lazy(
            lambda: {
                "type": "order",
                "event": event,
                "order": rec.json,
                "metaData": {
                    **(self.meta(rec, st) if meta is None else meta),
                    "publishedAt": time.time(),
                },
            },
            lambda ev: _order_event_text(ev, rec),
        )

    # ---- eviction ----------------------------------------------------------------------

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
        as they hold it (one store read), unless the book still holds them. How many."""
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
            row = rows.get(rec.signed.hash_hex)
            if h in self.book or h in self._pinned or row != rec.row():
                del self._closing[h]  # fills in flight, pinned, or its last change not stored:
                self._closing[h] = later  # looked at again after another grace period
                if row != rec.row() and h not in self.book and self._deferred is None:
                    self._rewrite(rec, row is None)  # (its write failed: written again)
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

    def _rewrite(self, rec: Record, insert: bool) -> None:
        """Queue ``rec``'s row again (its insert too if ``insert``: no row): every write
        queued before ``evict``'s read was committed by then, so a row that differs from
        the record is one whose write failed; the next ``evict`` finds it stored."""
        s = rec.signed
        if insert:
            self.store.add_order_async(
                s, rec.seq, rec.status, rec.source, rec.tif.value, rec.json, waited=False
            )
        self.store.update_orders([rec.row()])

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


def meta_text(
    hash_hex: str,
    status: str,
    filled: int,
    pending: int,
    fillable: int,
    remaining: int,
    created_at: float,
    source: str,
    reason: str,
) -> str:
    """``encode_json`` of ``HeldOrders.meta``'s dict of these values, formatted directly
    (a dict and the C encoder cost ~9 us a record; this ~1.5 us). The hash is 0x-hex and
    the status an ``OrderStatus`` name, neither needs escaping; the numbers are ints;
    ``createdAt`` a finite float (``repr`` is what ``json`` writes for it)."""
    return (
        f'{{"orderHash": "{hash_hex}", "status": "{status}", "filledMakerAmount": "{filled}", '
        f'"pendingMakerAmount": "{pending}", "remainingFillableMakerAmount": "{fillable}", '
        f'"remainingMakerAmount": "{remaining}", "createdAt": {float(created_at)!r}, '
        f'"source": {_string(source)}, "reason": {_string(reason)}}}'
    )


def hash_of(hash_hex: str) -> bytes | None:
    """The 32 bytes a 0x-hex order hash names (None: it names no order)."""
    try:
        h = bytes.fromhex(hash_hex.removeprefix("0x"))
    except ValueError:
        return None
    return h if len(h) == 32 else None


def _order_event_text(ev: Event, rec: Record) -> str:
    """``encode_json(ev)`` of an order event, with the order's text encoded once a record
    (``Record.text``: also its store row's, and its gossip pushes'), its ``metaData``
    stamped ``sentAt`` first: made by the first subscriber's sender as it writes it."""
    ev["metaData"]["sentAt"] = time.time()
    event, meta = encode_json(ev["event"]), encode_json(ev["metaData"])
    return (
        f'{{"seq": {ev["seq"]}, "type": "order", "event": {event}, '
        f'"order": {rec.text()}, "metaData": {meta}}}'
    )
