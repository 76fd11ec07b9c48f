"""The records the order registry (``sdex.node.registry``) holds in memory, their indexes
and lookups, and their JSON.

What is evicted from memory (closed and stored: ``sdex.node.eviction``) is read from the
store when asked for (``held``, ``stored``, ``json_of``; ``OrderRegistry.load`` takes one
back); its hash is kept in a fixed-size filter (``evicted``) so that almost every new order
is known to be new without a store lookup. A record and its JSON text:
``sdex.node.heldrecord``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

from sortedcontainers import SortedDict

from sdex.book import BookOrderState, OrderBook, entry_status
from sdex.hashfilter import HashFilter
from sdex.model import MAX_SIGNATURE_BYTES, OPEN_STATUSES, OrderStatus
from sdex.node.events import EventHub, encode_json
from sdex.node.eviction import CLOSED_GRACE, HeldEviction
from sdex.node.eviction import EVICT_BATCH as EVICT_BATCH
from sdex.node.heldrecord import AlreadyHeld as AlreadyHeld
from sdex.node.heldrecord import Record as Record
from sdex.node.heldrecord import Row as Row
from sdex.node.heldrecord import cancel_fields, order_event_text
from sdex.node.heldrecord import hash_of as hash_of
from sdex.node.heldrecord import meta_text as meta_text
from sdex.node.unfundedq import UnfundedMakers
from sdex.order import ZERO_ADDRESS
from sdex.store import Store, StoredOrder

EVICTED_UNFUNDED = (
    "evicted: unfunded the longest while the node held its bound of unfunded orders; "
    "post it again once funded"
)
"""The reason of an order closed at ``max_unfunded`` (status ``removed``)."""


class HeldOrders(HeldEviction):
    """The records held in memory: by hash, by signature, by (maker, maker token); the
    open-order counts and the gossip digest (kept by ``OrderRegistry``'s transitions); their
    eviction: ``HeldEviction``."""

    def __init__(self, events: EventHub) -> None:
        self.events = events
        self.records: dict[bytes, Record] = {}
        self.maker_open: dict[str, int] = {}
        """Open orders per maker (the per-maker limit), kept by every transition."""
        self.open_orders = 0
        """Open orders in all: ``sum(maker_open.values())`` (read per order by intake)."""
        self.restricted_open: dict[str, int] = {}
        """Open orders per maker restricted to one taker (``taker`` not 0x0; walk46)."""
        self.restricted_orders = 0
        """Open restricted orders in all."""
        self.restricted_for: dict[str, int] = {}
        """Open orders restricted to each taker."""
        self.parked_for: dict[str, int] = {}
        """Those of them held ``unfunded``: not counted against ``max_restricted_per_taker``
        (left60: keys passing one bankroll on parked orders for a taker until its bound was
        full, and every honest order for it was refused)."""
        self.restricted_unfunded: dict[bytes, None] = {}
        """Those of them held ``unfunded``, longest unfunded first (not counted against
        ``max_restricted_orders``: parked, no walk meets them)."""
        self.restricted_makers = UnfundedMakers(self.trades)
        """The same by maker (``unfunded_makers``' rule at ``max_restricted_unfunded``)."""
        self.restricted_freed = 0
        """Restricted orders that closed or parked (``unfunded``) here: a slot freed, so a
        peer's copy refused ``RESTRICTED_LIMIT`` is fetched again (``Refused``'s epoch)."""
        self.max_restricted_unfunded = 20_000
        """Restricted orders held ``unfunded`` at most (``Limits.max_restricted_unfunded``)."""
        self._by_signature: dict[str, Record] = {}
        self._by_account: dict[tuple[str, str], set[bytes]] = {}
        """Order hashes by (maker, maker token): the orders a funds change touches."""
        self._unfunded: dict[tuple[str, str], set[bytes]] = {}
        """The ``unfunded`` records by (maker, maker token): those funds freed may reopen."""
        self.unfunded_since: dict[bytes, None] = {}
        """The ``unfunded`` records' hashes, longest unfunded first."""
        self.unfunded_makers = UnfundedMakers(self.trades)
        """The same by maker: past ``max_unfunded``, the maker holding the most loses one
        first (``evict_unfunded``; attack50)."""
        self.max_unfunded = 50_000
        """Open orders held ``unfunded`` at most (``Limits.max_unfunded``)."""
        self.evicted_unfunded = 0
        """Orders closed at that bound since the node started."""
        self._digest = [0] * 256
        """The gossiped orders' (announced and open) hashes XORed by first byte: the
        anti-entropy digest, kept as orders join and leave that set (walking every open
        order for each digest cost a node 6-9% of its loop at 4,000 open orders)."""
        self._digest_hex = ["0"] * 256
        """``_digest`` as ``digest`` answers it, each bucket made again only after it changed
        (``_stale``): left75, a digest request formatted all 256 each time."""
        self._stale: set[int] = set()
        self._buckets: list[set[bytes]] = [set() for _ in range(256)]
        """The gossiped orders' hashes by first byte (``hashes_in``)."""
        self._listed: list[list[str] | None] = [None] * 256
        """Each bucket's hashes as 0x-hex, kept until the bucket changes (None: not made):
        a peer's hash listing costs no hex encoding per hash per request (hashes67)."""
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
        """While a larger filter is built from the store: the hashes evicted meanwhile."""
        self._grow_after = 0.0
        """(monotonic) No filter rebuild before this: one failed (``GROW_RETRY``)."""
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
        """Open orders of ``maker``; with None, the open orders that can trade now (those
        held ``unfunded`` have a bound of their own, ``max_unfunded``: they never take a
        tradable order's room, dust27/attack27's book-full attack)."""
        if maker is None:
            return self.open_orders - len(self.unfunded_since)
        return self.maker_open.get(maker, 0)

    def trades(self, maker: str) -> bool:
        """Whether ``maker`` holds an open order not ``unfunded`` (funds now): its unfunded
        ones are closed last past ``max_unfunded`` (``UnfundedMakers``; left60)."""
        held = self.unfunded_makers.of.get(maker)
        return self.maker_open.get(maker, 0) > (0 if held is None else len(held))

    def restricted_count(self, maker: str | None) -> int:
        """``open_count`` of the orders restricted to one taker (``Limits``'s
        ``max_restricted_per_maker`` and ``max_restricted_orders``)."""
        if maker is None:
            return self.restricted_orders - len(self.restricted_unfunded)
        return self.restricted_open.get(maker, 0)

    def restricted_to(self, taker: str) -> int:
        """Open orders restricted to ``taker`` that can trade now, those held ``unfunded``
        not counted (``Limits.max_restricted_per_taker``; left60)."""
        return self.restricted_for.get(taker, 0) - self.parked_for.get(taker, 0)

    def _restricted_moved(self, maker: str, taker: str, by: int) -> None:
        """One of ``maker``'s orders restricted to ``taker`` opened (``by`` 1) or closed."""
        for counts, key in ((self.restricted_open, maker), (self.restricted_for, taker)):
            n = counts.get(key, 0) + by
            if n > 0:
                counts[key] = n
            else:
                counts.pop(key, None)
        self.restricted_orders += by
        if by < 0:
            self.restricted_freed += 1

    def account_open(self, maker: str, token: str) -> int:
        """Open orders of ``maker`` selling ``token`` (as the book holds them)."""
        first = next(self.book.orders_of(maker, token), None)
        return 0 if first is None else first.account.live

    def unfunded_moved(self, rec: Record, unfunded: bool) -> None:
        """``rec`` became (or stopped being) ``unfunded``: the indexes that say so."""
        o = rec.signed.order
        key = (o.maker, o.maker_token)
        h = rec.signed.hash
        self.restricted_makers.touch(o.maker)  # (``trades(o.maker)`` may have moved)
        if unfunded:
            self._unfunded.setdefault(key, set()).add(h)
            self.unfunded_since[h] = None
            self.unfunded_makers.add(o.maker, h)
            if o.taker != ZERO_ADDRESS:
                self.restricted_unfunded[h] = None
                self.restricted_makers.add(o.maker, h)
                self.restricted_freed += 1
                self.parked_for[o.taker] = self.parked_for.get(o.taker, 0) + 1
        else:
            if h in self.restricted_unfunded:
                del self.restricted_unfunded[h]
                self.restricted_makers.discard(o.maker, h)
                if n := self.parked_for[o.taker] - 1:
                    self.parked_for[o.taker] = n
                else:
                    del self.parked_for[o.taker]
            held = self._unfunded[key]
            held.discard(h)
            if not held:
                del self._unfunded[key]
            self.unfunded_since.pop(h, None)
            self.unfunded_makers.discard(o.maker, h)

    def over_unfunded(self) -> list[bytes]:
        """The orders held ``unfunded`` past ``max_unfunded`` (the maker holding the most
        first, its longest unfunded first: ``UnfundedMakers``), and the restricted ones past
        ``max_restricted_unfunded`` (by the same rule): the registry closes them
        (``OrderRegistry.evict_unfunded``). (Funded again, every restricted one held rests
        in the ladders unchecked: funds moved from maker to maker took any number past
        ``max_restricted_orders``, review48.)"""
        over = self.unfunded_makers.first(len(self.unfunded_since) - self.max_unfunded)
        held = self.restricted_unfunded
        more = self.restricted_makers.first(len(held) - self.max_restricted_unfunded)
        if more:
            seen = set(over)
            over += [h for h in more if h not in seen]
        return over

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
        shown = self._digest_hex
        for b in self._stale:
            shown[b] = f"{self._digest[b]:x}"
        self._stale.clear()
        return shown.copy()

    def hashes_in(self, buckets: set[int]) -> list[str]:
        """The gossiped orders' hashes (0x-hex) in these buckets, each bucket's sorted (a
        listing's run of an over-full bucket is a slice of it: ``sdex.gossip.listing``)."""
        out: list[str] = []
        for b in sorted(buckets):
            if 0 <= b < 256:
                listed = self._listed[b]
                if listed is None:
                    listed = self._listed[b] = sorted("0x" + h.hex() for h in self._buckets[b])
                out += listed
        return out

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
        self._stale.add(h[0])
        bucket = self._buckets[h[0]]
        self._listed[h[0]] = None
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
        o = rec.signed.order
        if st is None:  # the book's live entry read: no state view built (settle27)
            e = self.book.find(rec.signed.hash)
            if e is not None and e.closed is None:
                status, filled, pending = entry_status(e), e.filled, e.pending
                fillable = 0 if e.parked else e.fillable
            else:
                status, filled, fillable = rec.status, rec.filled, 0
                pending = e.pending if e is not None else 0
        elif st.closed is None:
            status, filled, fillable, pending = st.status, st.filled, st.fillable, st.pending
        else:
            status, filled, fillable, pending = rec.status, rec.filled, 0, st.pending
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
            **cancel_fields(rec.cancel_at),
        }

    def record_json(self, rec: Record) -> dict[str, object]:
        return {"order": rec.signed.to_json(), "metaData": self.meta(rec)}

    def record_text(self, rec: Record, more: str = "") -> str:
        """``encode_json(record_json(rec))``, the same text made ~5x faster: the order's
        text is the record's own (``Record.text``) and ``metaData`` is formatted directly
        (``meta_text``; a listing page is a join of these, ``sdex.node.pages``). ``more``:
        JSON text of further ``metaData`` fields, each led by ``", "``."""
        st = self.book.get(rec.signed.hash)
        if st is not None and st.closed is None:
            status, filled, fillable, pending = st.status, st.filled, st.fillable, st.pending
        else:
            status, filled, fillable = rec.status, rec.filled, 0
            pending = st.pending if st is not None else 0
        meta = meta_text(
            rec.signed.hash_hex, status, filled, pending, fillable,
            rec.signed.order.maker_amount - filled, rec.created_at, rec.source, rec.reason,
            rec.cancel_at,
        )  # fmt: skip
        order = rec.json_text or encode_json(rec.json)  # (a closed record's is not kept)
        if more:
            meta = meta[:-1] + more + "}"
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
        the first subscriber it is written to (``order_event_text``): bench/gossip.py
        times each hop by them on one machine. (Wall time, not the monotonic clock, which
        would tell every subscriber the host's uptime.) Built only if someone listens; the
        order's text encoded once per record."""

        def made(seq: int) -> dict[str, object]:
            m = self.meta(rec, st) if meta is None else {**meta}  # (``meta``'s: not the caller's)
            m["publishedAt"] = time.time()
            return {"seq": seq, "type": "order", "event": event, "order": rec.json, "metaData": m}

        self.events.publish_numbered(
            made, functools.partial(order_event_text, rec=rec, text=rec.json_text)
        )  # (the order's text as now: a close drops it from the record after this)
