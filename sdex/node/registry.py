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
(``open``, ``partially_filled``, ``unfunded``), in one transaction: after a block, a
settlement's result, and (scheduled by ``matched``) the loop turn of a match.

The records themselves, their indexes, their JSON and their eviction from memory once
closed and stored are ``sdex.node.held``'s (``HeldOrders``); the row writes each change
queues (a block's tracked, a wallet order's own, the settler's deferred) are
``sdex.node.rowwrites``' (``RowWrites``, on ``HeldOrders``, which this class extends).

No I/O of its own beyond the store and the event hub it is given; ``Node`` builds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from sdex.book import RemovalReason, entry_status
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match, MatchResult
from sdex.model import TRANSITIONS, OrderStatus, check_transition, closed_status
from sdex.node.events import EventHub
from sdex.node.held import EVICTED_UNFUNDED, AlreadyHeld, Row
from sdex.node.held import Record as Record
from sdex.node.rowwrites import RowWrites
from sdex.order import ZERO_ADDRESS, SignedOrder
from sdex.store import StoredOrder

__all__ = ["OrderRegistry", "Record", "Row"]
log = logging.getLogger("sdex.node")

EXPIRED_AHEAD = 4096
"""Orders closed as expired while the chain's clock ran ahead of the wall clock, kept (the
oldest dropped first) so that a reorg back before their expiry can reopen them."""


class OrderRegistry(RowWrites):
    """Every order the node holds: the records, their indexes (by hash, by signature, by
    (maker, maker token)), the open-order counts, and every status transition."""

    def __init__(self, events: EventHub) -> None:
        super().__init__(events)
        self._expired_ahead: dict[bytes, int] = {}
        """Order hash -> expiry of the orders closed as expired before the wall clock reached
        their expiry (the chain's head did): only these can a reorg make unexpired."""
        self._sync_soon = False
        """A ``sync`` is scheduled for the end of this loop turn (``matched``)."""

    def load(self, order_hash: bytes) -> Record | None:
        """The record, from memory or back from the store (held again until evicted)."""
        rec = self.records.get(order_hash)
        if rec is None and (s := self.stored(order_hash)) is not None:
            rec = self.load_stored(s)
        return rec

    async def load_all(self, hashes: Iterable[bytes], part: int = 1024) -> None:
        """Those of ``hashes`` evicted held again (``load`` of each), their rows read
        together off the event loop (``Store.orders_of``), not one read each on it, and
        held ``part`` at a time, the loop running between (replay80: a start's 50,000
        orders due a recheck held in one turn of ~0.4 s)."""
        evicted, records = self.evicted, self.records
        want: list[str] = []
        for k, h in enumerate(hashes):  # (the filter's look-ups: ~3 us each)
            if k and k % part == 0:
                await asyncio.sleep(0)
            if h not in records and h in evicted:
                want.append("0x" + h.hex())
        if not want:
            return
        self.lookups += len(want)
        for k, s in enumerate(await self.store.orders_of(want)):
            if k and k % part == 0:
                await asyncio.sleep(0)
            if s.signed.hash not in self.records:  # (loaded meanwhile: kept as it is)
                self.load_stored(s)

    def load_stored(self, s: StoredOrder) -> Record:
        """An evicted order's stored row held in memory again (``evict`` or ``unload``
        drop it again)."""
        rec = Record.of_stored(s)
        self.hold(rec, OrderStatus(s.status))
        self.stored_only -= 1
        return rec

    # ---- transitions ---------------------------------------------------------------------

    def admit(self, rec: Record, status: OrderStatus = OrderStatus.OPEN) -> None:
        """A newly accepted record (``NEW``) held from now on with ``status`` (the caller
        queues its row's insert and publishes ``added``). Refused (``AlreadyHeld``) if the
        order is held already, in memory or evicted: accepted twice, it would be booked
        open while its row (``INSERT OR IGNORE``) stays closed, and counted twice."""
        if self.held(rec.signed.hash):
            raise AlreadyHeld(rec.signed.hash_hex)
        self.hold(rec, status)

    def hold(self, rec: Record, status: OrderStatus) -> None:
        """A record (``NEW``) held from now on with ``status``: accepted (``admit``) or
        read back from its stored row (``load_stored``, a restart's reload)."""
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
        if not status.is_open:
            self._closing[h] = time.monotonic()

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
            self.unfunded_moved(rec, status is OrderStatus.UNFUNDED)
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
            self.unfunded_makers.touch(maker)  # (``trades(maker)`` may have moved)
            self.restricted_makers.touch(maker)
            if (taker := rec.signed.order.taker) != ZERO_ADDRESS:
                self._restricted_moved(maker, taker, -1 if was_open else 1)
            if rec.announced:
                self._flip(rec)
            if was_open:  # closed: evicted once stored and past the grace period
                self._closing[rec.signed.hash] = time.monotonic()
            else:
                self._closing.pop(rec.signed.hash, None)
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
        if status is OrderStatus.EXPIRED and rec.signed.order.expiry > time.time():
            self._note_expired_ahead(rec.signed)
        rec.reason = reason
        if filled is not None:
            rec.filled = filled
        self._write(rec.row())
        self.publish(rec, event or rec.status)
        if was_open and not status.is_open:
            self._freed(rec.signed)
            rec.json_text = None  # closed: never pushed again; records are kept, texts not

    def _note_expired_ahead(self, signed: SignedOrder) -> None:
        ahead = self._expired_ahead
        ahead.pop(signed.hash, None)
        ahead[signed.hash] = signed.order.expiry
        if len(ahead) > EXPIRED_AHEAD:
            del ahead[next(iter(ahead))]

    def unexpired(self, now: int) -> set[bytes]:
        """The orders closed as expired whose expiry is after ``now`` (the chain's head went
        back before it: a reorg), for the chain to judge again; those the wall clock has
        passed are forgotten (no reorg can unexpire them)."""
        wall = time.time()
        ahead = self._expired_ahead
        for h in [h for h, expiry in ahead.items() if expiry <= wall]:
            del ahead[h]
        return {h for h, expiry in ahead.items() if expiry > now}

    def close(
        self, rec: Record, status: OrderStatus, reason: str, filled: int | None = None
    ) -> None:
        """``rec`` left the book (or never rests) with ``status``. Its filled amount is the
        book's while the book still knows it (fills in flight), else ``filled`` if given.
        This node's policy (``REMOVED``) never closes an order already closed."""
        if status is OrderStatus.REMOVED and not rec.status.is_open:
            return
        e = self.book.find(rec.signed.hash)
        if e is not None:
            filled = e.filled
        self.transition(rec, status, reason, filled=filled)

    def book_closed(
        self, order_hash: bytes, reason: RemovalReason, filled: int | None = None
    ) -> None:
        """The book closed an order for ``reason``: its record closes with the status that
        gives (``filled`` if nothing tradeable is left)."""
        rec = self.records.get(order_hash)
        if rec is None:
            return
        e = self.book.find(order_hash)
        if e is not None:
            filled = e.filled
        elif filled is None:
            filled = rec.filled
        status = closed_status(reason.value, filled == rec.signed.order.maker_amount)
        self.close(rec, status, reason.value, filled)

    def remove(
        self, order_hash: bytes, reason: RemovalReason, why: str, filled: int | None = None
    ) -> None:
        """Stop offering an order the book holds (cancelled, invalid...), and close it
        (``filled``: the chain's filled amount, taken if the book forgets it: nothing of it
        in flight; ``close``)."""
        if order_hash not in self.book:
            return
        self.book.remove(order_hash, reason)
        rec = self.records.get(order_hash)
        if rec is not None:
            self.close(rec, closed_status(reason.value, False), why, filled)

    def evict_unfunded(self) -> None:
        """Close the orders held ``unfunded`` past ``max_unfunded``, the maker holding the
        most first (``over_unfunded``): ``removed``, reason ``evicted: ...`` (stored, and an
        order event on the websocket)."""
        for h in self.over_unfunded():
            self.remove(h, RemovalReason.UNFUNDED, EVICTED_UNFUNDED)
            self.evicted_unfunded += 1

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
        e = self.book.register(signed, filled=filled)  # ``rest``, reading the entry it made
        self._touched.add(signed.hash)  # (not a ``get``: no state view built per order)
        return self.book.rest(e) is None and e.closed is None

    def matched(self, mr: MatchResult) -> None:
        """The engine matched ``mr.order``: it and every order it matched moved. With a
        match, they are stored and published at the end of this loop turn (``sync``: one
        for all the turn's matches), not at the settlement's result: an order is
        ``partially_filled`` from its match on (README), its event and row too."""
        touched = self._touched
        touched.add(mr.order.hash)
        for m in mr.matches:
            touched.add(m.resting.hash)
            touched.add(m.incoming.hash)
        if mr.matches and not self._sync_soon:
            with contextlib.suppress(RuntimeError):  # (no loop: synced at its next result)
                asyncio.get_running_loop().call_soon(self._sync_turn)
                self._sync_soon = True

    def _sync_turn(self) -> None:
        """``sync`` once a turn's matches are made (after the caller published ``added``
        for an incoming order: its ``partially_filled`` comes after it)."""
        self._sync_soon = False
        try:
            self.sync()
        except Exception:  # (the next result's or block's sync stores what this did not)
            log.exception("storing and publishing matched orders failed")

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
        moved: list[Record] = []
        find = self.book.find  # (the book's live entries read: no state view built, settle27)
        records = self.records
        for h in touched:
            rec = records.get(h)
            e = find(h)
            if rec is None or e is None:
                continue
            filled = e.filled
            if not rec.status.is_open or e.closed is not None:
                if filled != rec.filled and not rec.status.is_open:
                    rec.filled = filled  # closed, fills of it in flight: one confirmed
                    rows.append(rec.row())
                continue
            status = entry_status(e)
            if filled != rec.filled or status is not rec.status:
                rec.filled = filled
                if status is not rec.status:
                    self._move(rec, status)
                    moved.append(rec)
                rows.append(rec.row())
        if rows:  # nobody waits for it: queued, its failure logged (a block's: tracked)
            self._update(rows)
        for rec in moved:  # (its ``metaData`` read from the book as it is now: as above)
            self.publish(rec, rec.status)
        self.evict_unfunded()
        self.events.changed()  # (fillable amounts may have moved without a status change)
