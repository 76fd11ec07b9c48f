"""The order registry: one ``Record`` per order, its indexes, and every change of its status.

An order's status, filled amount and reason change here and nowhere else. Each change is
checked against ``sdex.model.TRANSITIONS`` (``TransitionError`` otherwise), written to the
store (its row's ``status``, ``filled``, ``reason``) and published on the websocket.

While the book holds an order open, its fill state is the book's: ``meta`` reads it from
there, and the record keeps what was last stored and published. The book does not report
what it changed, so every book change that can move an open order's fill state or status
is made, or named, through the registry: ``set_funds``, ``set_filled``, ``rest`` (changes it
makes), ``matched`` and ``settled`` (the matching engine's), and every close (which frees
its maker's funds for the maker's ``unfunded`` orders). The registry notes the orders
each touched, and ``sync`` stores and publishes exactly those whose state moved
(``open``, ``partially_filled``, ``unfunded``), in one transaction.

No I/O of its own beyond the store and the event hub it is given; ``Node`` builds it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from sdex.book import BookOrderState, OrderBook, RemovalReason
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match, MatchResult, TimeInForce
from sdex.model import (
    OPEN_STATUSES,
    TRANSITIONS,
    OrderStatus,
    check_transition,
    closed_status,
)
from sdex.node.events import Event, EventHub, encode_json
from sdex.order import SignedOrder
from sdex.store import Store

Row = tuple[str, str, int, str]
"""A store update: (hash hex, status, filled, reason)."""


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


class OrderRegistry:
    """Every order the node holds: the records, their indexes (by hash, by signature, by
    (maker, maker token)), the open-order counts, and every status transition."""

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
        self._touched: set[bytes] = set()
        """Orders a book change touched since the last ``sync``."""
        self._deferred: list[Row] | None = None

    def attach(self, store: Store, book: OrderBook) -> None:
        """The store rows are written to and the book fill states are read from."""
        self.store = store
        self.book = book

    # ---- lookups -----------------------------------------------------------------------

    def get(self, order_hash: bytes) -> Record | None:
        return self.records.get(order_hash)

    def at(self, hash_hex: str) -> Record | None:
        """The record of a hash a peer named (0x-hex; anything else names nothing)."""
        try:
            return self.records.get(bytes.fromhex(hash_hex.removeprefix("0x")))
        except ValueError:
            return None

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

    def digest(self) -> list[str]:
        """256 buckets (by the hash's first byte), each the XOR of the hashes of the
        gossiped orders in it."""
        return [f"{x:x}" for x in self._digest]

    def hashes_in(self, buckets: set[int]) -> list[str]:
        """The gossiped orders' hashes (0x-hex) in these buckets."""
        return ["0x" + h.hex() for b in sorted(buckets) if 0 <= b < 256 for h in self._buckets[b]]

    def announce(self, rec: Record) -> None:
        """``rec`` is gossiped from now on (offered to peers while it is open)."""
        if not rec.announced:
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
        else:
            bucket.add(h)

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

    def publish(
        self,
        rec: Record,
        event: str,
        st: BookOrderState | None = None,
        meta: dict[str, object] | None = None,
    ) -> None:
        """An order event on the websocket: ``event`` and the record's JSON (``st``: as
        for ``meta``; ``meta``: the record's ``metaData`` if the caller just made it). Built
        only if someone listens; the order's text encoded once per record."""
        self.events.publish_lazy(
            lambda: {
                "type": "order",
                "event": event,
                "order": rec.json,
                "metaData": self.meta(rec, st) if meta is None else meta,
            },
            lambda ev: _order_event_text(ev, rec),
        )

    # ---- transitions ---------------------------------------------------------------------

    def admit(self, rec: Record, status: OrderStatus = OrderStatus.OPEN) -> None:
        """A new record (``NEW``) held from now on with ``status``: accepted (the caller
        queues its row's insert and publishes ``added``) or reloaded (its row is stored)."""
        h = rec.signed.hash
        self._move(rec, status)
        self.records[h] = rec
        o = rec.signed.order
        key = (o.maker, o.maker_token)
        held = self._by_account.get(key)  # (not ``setdefault``: a new set per order)
        if held is None:
            self._by_account[key] = {h}
        else:
            held.add(h)
        if len(rec.signed.signature) == 65:
            self._by_signature[rec.json["signature"]] = rec

    def _move(self, rec: Record, status: OrderStatus) -> None:
        """``rec.status = status`` if the table allows it, keeping the open counts true."""
        old_status = rec.status
        # ``check_transition``'s test without its two enum conversions (~1 us each, per
        # order): anything the table does not plainly allow goes through it (and raises)
        if type(status) is not OrderStatus or (
            status is not old_status and status not in TRANSITIONS[old_status]
        ):
            status = check_transition(old_status, status)
        if (old_status is OrderStatus.UNFUNDED) != (status is OrderStatus.UNFUNDED):
            o = rec.signed.order
            key = (o.maker, o.maker_token)
            if status is OrderStatus.UNFUNDED:
                self._unfunded.setdefault(key, set()).add(rec.signed.hash)
            else:
                held = self._unfunded[key]
                held.discard(rec.signed.hash)
                if not held:
                    del self._unfunded[key]
        was_open = old_status.is_open
        if was_open != status.is_open:
            maker = rec.signed.order.maker
            old = self.maker_open.get(maker, 0)
            n = old + (-1 if was_open else 1)
            if n > 0:
                self.maker_open[maker] = n
            else:
                self.maker_open.pop(maker, None)
                n = 0
            self.open_orders += n - old
            if rec.announced:
                self._flip(rec)
        rec.status = status

    def transition(
        self,
        rec: Record,
        status: OrderStatus,
        reason: str,
        *,
        filled: int | None = None,
        event: str | None = None,
    ) -> None:
        """Change ``rec``'s status (``TransitionError`` if the table forbids it; then nothing
        changes), reason and filled amount; store the row and publish ``event`` (the new
        status's name unless given)."""
        was_open = rec.status.is_open
        self._move(rec, status)
        rec.reason = reason
        if filled is not None:
            rec.filled = filled
        self._write(rec.row())
        self.publish(rec, event or rec.status)
        if was_open and not status.is_open:
            self._freed(rec.signed)
            rec.json_text = None  # closed: never pushed again; records are kept, texts not

    def close(
        self, rec: Record, status: OrderStatus, reason: str, filled: int | None = None
    ) -> None:
        """``rec`` left the book (or never rests) with ``status``. Its filled amount is the
        book's while the book still knows it (fills in flight), else ``filled`` if given.
        This node's policy (``REMOVED``) never closes an order already closed."""
        if status is OrderStatus.REMOVED and not rec.status.is_open:
            return
        st = self.book.get(rec.signed.hash)
        if st is not None:
            filled = st.filled
        self.transition(rec, status, reason, filled=filled)

    def book_closed(
        self, order_hash: bytes, reason: RemovalReason, filled: int | None = None
    ) -> None:
        """The book closed an order for ``reason``: its record closes with the status that
        gives (``filled`` if nothing tradeable is left)."""
        rec = self.records.get(order_hash)
        if rec is None:
            return
        st = self.book.get(order_hash)
        if st is not None:
            filled = st.filled
        elif filled is None:
            filled = rec.filled
        status = closed_status(reason.value, filled == rec.signed.order.maker_amount)
        self.close(rec, status, reason.value, filled)

    def remove(self, order_hash: bytes, reason: RemovalReason, why: str) -> None:
        """Stop offering an order the book holds (cancelled, invalid...), and close it."""
        if order_hash not in self.book:
            return
        self.book.remove(order_hash, reason)
        rec = self.records.get(order_hash)
        if rec is not None:
            self.close(rec, closed_status(reason.value, False), why)

    def correct_filled(self, rec: Record, filled: int) -> None:
        """A closed order's filled amount as the chain now has it (its status stands):
        stored, not published (no transition)."""
        rec.filled = filled
        self._write(rec.row())

    # ---- book changes that move open orders' fill state -----------------------------------

    def set_funds(self, maker: str, token: str, amount: int) -> None:
        """The book's view of what ``maker`` can pay in ``token``; every order of that
        account may change status (unfunded, open). If the book now funds all of them in
        full (``Account.funded``), none is unfunded: only those held ``unfunded`` moved."""
        book = self.book
        if book.funds(maker, token) != amount:
            book.set_funds(maker, token, amount)
            key = (maker, token)
            first = next(book.orders_of(maker, token), None)
            if first is not None and first.account.funded:
                unfunded = self._unfunded.get(key)
                if unfunded:
                    self._touched |= unfunded
            else:
                self._touched |= self._by_account.get(key, set())

    def set_filled(self, order_hash: bytes, filled: int) -> None:
        """The chain's filled amount for an order the book holds."""
        self.book.set_filled(order_hash, filled)
        self._touched.add(order_hash)

    def rest(self, signed: SignedOrder, filled: int) -> None:
        """Put a held order (back) in the book (``BookError`` if it cannot be)."""
        self.book.add(signed, filled=filled)
        self._touched.add(signed.hash)

    def rests(self, signed: SignedOrder, filled: int) -> bool:
        """``rest`` an order; False if the book closed it at once (what is left is dust: no
        whole unit at its price). The caller then closes its record (``book_closed``), so
        it is never left open, and offered to peers, while the book does not hold it."""
        self.rest(signed, filled)
        st = self.book.get(signed.hash)
        return st is not None and st.closed is None

    def matched(self, mr: MatchResult) -> None:
        """The engine matched ``mr.order``: it and every order it matched moved."""
        touched = self._touched
        touched.add(mr.order.hash)
        for m in mr.matches:
            touched.add(m.resting.hash)
            touched.add(m.incoming.hash)

    def settled(self, m: Match, actual: MatchAmounts | None = None) -> None:
        """A match's settlement was confirmed or released: both its orders moved, and what
        their makers had reserved for it is no longer held. Settled with ``actual`` amounts
        other than proposed, the makers' spendable funds moved by what the book did not
        reserve: all their orders on both tokens are looked at again (some may now be
        unfunded)."""
        self._touched.update((m.resting.hash, m.incoming.hash))
        self._freed(m.resting)
        self._freed(m.incoming)
        if actual is not None and actual != m.amounts:
            by_account = self._by_account
            for so in (m.resting, m.incoming):
                o = so.order
                self._touched |= by_account.get((o.maker, o.maker_token), set())
                self._touched |= by_account.get((o.maker, o.taker_token), set())

    def _freed(self, signed: SignedOrder) -> None:
        """Funds ``signed``'s maker held for it are free (it closed, or a fill of it settled
        or failed): the book gives them to the maker's other orders, so those held
        ``unfunded`` are looked at again."""
        o = signed.order
        unfunded = self._unfunded.get((o.maker, o.maker_token))
        if unfunded:
            self._touched |= unfunded

    def sync(self) -> None:
        """Store the filled amounts and statuses of the touched orders that moved (one
        transaction), then publish each status change. (A closed order the book still
        holds, fills of it in flight, only has its filled amount stored.)"""
        touched, self._touched = self._touched, set()
        rows: list[Row] = []
        moved: list[tuple[Record, BookOrderState]] = []
        book = self.book
        for h in touched:
            rec = self.records.get(h)
            st = book.get(h)
            if rec is None or st is None:
                continue
            if not rec.status.is_open or st.closed is not None:
                if st.filled != rec.filled and not rec.status.is_open:
                    rec.filled = st.filled  # closed, fills of it in flight: one confirmed
                    rows.append(rec.row())
                continue
            status = st.status
            if st.filled != rec.filled or status is not rec.status:
                rec.filled = st.filled
                if status is not rec.status:
                    self._move(rec, status)
                    moved.append((rec, st))
                rows.append(rec.row())
        if rows:  # nobody waits for it: queued, its failure logged
            self.store.update_orders(rows, wait=False)
        for rec, st in moved:
            self.publish(rec, rec.status, st)

    # ---- writes ----------------------------------------------------------------------------

    def defer_writes(self) -> None:
        """Until ``write_deferred``: closed records' rows are kept, and written together."""
        self._deferred = []

    def write_deferred(self) -> None:
        rows, self._deferred = self._deferred, None
        if rows:  # (the settler's results: nobody waits for them)
            self.store.update_orders(rows, wait=False)

    def _write(self, row: Row) -> None:
        if self._deferred is not None:
            self._deferred.append(row)
        else:
            self.store.update_orders([row])


def _order_event_text(ev: Event, rec: Record) -> str:
    """``encode_json(ev)`` of an order event, with the order's text encoded once a record
    (``Record.text``: also its store row's, and its gossip pushes')."""
    event, meta = encode_json(ev["event"]), encode_json(ev["metaData"])
    return (
        f'{{"seq": {ev["seq"]}, "type": "order", "event": {event}, '
        f'"order": {rec.text()}, "metaData": {meta}}}'
    )
