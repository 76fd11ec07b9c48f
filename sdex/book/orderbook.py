"""The node's order book: one ``PairBook`` per token pair, and the maker funds they share.

Fill state is counted in each order's maker token, as the contract counts it. Confirmed
fills (``filled``, from receipts or the chain) are kept apart from ``pending`` fills
(matches proposed but not settled yet): ``remaining = maker_amount - filled - pending``,
and the book offers ``fillable = min(remaining, the maker's funds allocated to it)``.

Node-facing life cycle of a fill: ``MatchingEngine`` reserves both sides of each match
(``pending += amount``); the settlement then ``confirm``\\ s it (pending -> filled) or
``release``\\ s it (the amount is offered again, at the order's old time priority). The
chain watcher reports fills made elsewhere with ``set_filled`` and maker funds with
``set_funds``; cancellations and the like go through ``remove``. An order that leaves
while fills of it are in flight is *closed*: no longer offered, but kept until its pending
fills are confirmed or released, so an order in flight is never matched beyond what it has.

Each fill is reported once: ``confirm`` for the node's own settlements, ``set_filled``
with the chain's total for anything else (it overrides ``filled``).
"""

from __future__ import annotations

from typing import Any, Final

from sdex.book.bookbase import seq_of, unknown_pair
from sdex.book.bookcore import BookCore
from sdex.book.errors import BookError, FillStateError, UnknownOrder
from sdex.book.levels import SEQ_LIMIT, Entry, Level
from sdex.book.types import RemovalReason
from sdex.order import Order, SignedOrder, parse_hex_bytes

SNAPSHOT_VERSION: Final = 1
_DUST: Final = RemovalReason.DUST
_FILLED: Final = RemovalReason.FILLED


class OrderBook(BookCore):
    """Every pair's book plus shared maker funds; orders identified by hash.

    ``default_funds`` is the spendable amount assumed for a (maker, token) the node never
    reported with ``set_funds``: 0 (the default) keeps such orders unfunded, as a node
    should; ``None`` means no cap, for tests and benchmarks that don't model balances.

    Every change to the book goes through these methods; ``sdex.matching`` reads the levels
    and entries but changes them only through ``fill``, ``reserve_entry``, ``close``, ``tidy``,
    ``rest``, ``settle`` and ``confirm_pair``.
    """

    # ---- fill state ------------------------------------------------------------------------

    def fill(self, resting: Entry, x: int) -> None:
        """Reserve the resting side of a proposed match: ``x`` of ``resting``'s fillable
        (``sdex.matching``'s hot path; amounts already checked there). The walk reserves
        what the incoming order gives across all its matches at once, with
        ``reserve_entry``: that batches the updates of its maker's funds.

        The other orders' allocations don't move (remaining and the funds left for the later
        orders both drop by the amount, see ``sdex.book.funds``) unless what ``resting`` has
        left of an underfunded maker's partial share falls below its lot: the canonical
        allocation then passes it over and its funds go on to the maker's later orders. That
        is done by ``reshare``, which the walk calls once it is done (a reallocation may
        unpark orders, which must not happen at a level being walked). ``resting`` leaves its
        level's queue once what it has left cannot trade at its price (and its level,
        deferred, once all it has is in flight).
        """
        resting.pending += x
        left = resting.fillable - x
        resting.fillable = left
        account = resting.account
        account.open -= x
        account.reserved += x
        if left < resting.lot and not account.funded:
            self._stale.append(resting)
        at = resting.level
        if at is None or resting.parked:
            return
        level: Level = at  # (not None from here on: no check at each use, compiled)
        if left < resting.lot:  # it leaves the queue: the fill and what it had left go
            x += left
            if resting.maker_amount == resting.filled + resting.pending:
                # all in flight: deferred (see ``place``), so the level empties and goes,
                # and confirm is O(1) (``Level.discard``, its total moved below)
                resting.level = None
                level.take(resting)
                resting.parked = True
            else:
                level.hold(resting)
        low = level.low - x  # (``Level.add``, inlined: the walk's every fill, one change)
        if low >= 0:
            level.low = low
        else:
            level.carry(low)
        if level.logged < level.side.taken:
            level.side.moved(level)

    def reshare(self) -> bool:
        """Share again the funds of every maker a ``fill`` left with a partial share below
        its lot (``_refill``); returns whether some order can trade more than before (it
        may cross the book: the node uncrosses)."""
        stale = self._stale
        if not stale:
            return False
        self._stale = []
        grew = False
        for e in stale:
            grew |= self._refill(e)
        return grew

    def _refill(self, e: Entry) -> bool:
        """After a reservation left ``e`` less than its lot: if that was an underfunded
        maker's partial share (less than its remaining), the canonical allocation passes it
        over, so the maker's funds are shared again from scratch (``funds.allocate``); in
        every other case the allocation is what the reservation left (the maker covers all
        its orders, or ``e`` took its whole remaining, or ``e`` holds what none could use:
        see ``sdex.book.funds``)."""
        account = e.account
        if account.funded or e.fillable >= e.maker_amount - e.filled - e.pending:
            return False
        return self._reallocate(account)

    def reserve(self, order_hash: bytes, amount: int) -> None:
        """Hold ``amount`` of an order's fillable for a proposed match (pending += amount)."""
        self.reserve_entry(self.entry(order_hash), amount)

    def reserve_entry(self, e: Entry, amount: int) -> None:
        if not 0 < amount <= e.fillable:
            raise FillStateError(f"cannot reserve {amount}: order has {e.fillable} fillable")
        e.pending += amount
        e.fillable -= amount
        account = e.account
        account.open -= amount
        account.reserved += amount
        level = e.level
        if level is not None and not e.parked:
            level.add(-amount)
            if e.fillable < e.lot:
                level.park(e)
        if e.fillable < e.lot:
            self._refill(e)

    def confirm(self, order_hash: bytes, amount: int, filled: int | None = None) -> None:
        """A reserved fill settled: ``pending -= amount``, ``filled += filled`` (default amount).

        ``filled`` is what the chain actually filled, which can differ from what was
        proposed (the contract computes the fill from its own state). The maker's cached
        spendable drops by it too: those tokens left the maker. An order filled in full, or
        left with dust and nothing pending, is closed (and forgotten).
        """
        e = self._index.get(order_hash)
        if e is None:
            raise UnknownOrder(f"order 0x{order_hash.hex()} is not in the book")
        self.confirm_entry(e, amount, amount if filled is None else filled)

    def confirm_pair(
        self,
        left: bytes,
        left_amount: int,
        left_filled: int,
        right: bytes,
        right_amount: int,
        right_filled: int,
    ) -> None:
        """``confirm`` both sides of one match (``MatchingEngine.confirm``), each on its own:
        a side the book no longer holds (filled on chain meanwhile, a reorg), or holds less
        of in flight, does not keep the other's amount in flight for good (chaos60: the
        flaw ``Settling.release`` had, chaos55). The first ``BookError`` is raised once
        both were tried."""
        index = self._index
        error: BookError | None = None
        for h, amount, filled in (
            (left, left_amount, left_filled),
            (right, right_amount, right_filled),
        ):
            e = index.get(h)
            try:
                if e is None:
                    raise UnknownOrder(f"order 0x{h.hex()} is not in the book")
                self._confirm_one(e, amount, filled)
            except BookError as exc:
                if error is None:
                    error = exc
        if error is not None:
            raise error

    def confirm_entries(
        self, resting: Entry, resting_amount: int, incoming_amount: int, incoming: Entry
    ) -> None:
        """``confirm_pair`` of a match settled as proposed, given the book's records of both
        orders (``Match.resting_entry``, ``incoming_entry``): no lookup by hash. Records this
        book does not hold (any more) are looked up by their orders' hashes instead, as
        ``confirm_pair`` does."""
        if not (
            resting.indexed
            and incoming.indexed
            and resting.book_side.owner is self
            and incoming.book_side.owner is self
        ):
            self.confirm_pair(
                resting.signed.hash,
                resting_amount,
                resting_amount,
                incoming.signed.hash,
                incoming_amount,
                incoming_amount,
            )
            return
        try:
            self._confirm_one(resting, resting_amount, resting_amount)
        except BookError:  # (each side on its own, as ``confirm_pair``)
            self._confirm_one(incoming, incoming_amount, incoming_amount)
            raise
        self._confirm_one(incoming, incoming_amount, incoming_amount)

    def _confirm_one(self, e: Entry, amount: int, settled: int) -> None:
        """``confirm_entry``, its usual case inlined (the hot path of every settled match)."""
        pending = e.pending
        account = e.account
        if not (settled == amount and 0 <= amount <= pending and account.spend(amount)):
            self.confirm_entry(e, amount, settled)
            return
        account.reserved -= amount
        pending -= amount
        e.pending = pending
        filled = e.filled = e.filled + amount
        if e.closed is None:
            if filled == e.maker_amount:
                self.close(e, _FILLED)
                return
            if e.aon or e.maker_amount - filled < e.lot:
                self._reunit(e)  # its rest: all or nothing, or dust
            if pending == 0 and e.maker_amount - filled < e.lot:
                self.close(e, _DUST)
            elif e.parked and e.fillable >= e.lot:
                self._unpark(e)
        elif pending == 0:
            self._forget(e)
        elif e.aon or e.maker_amount - filled < e.lot:
            self._reunit(e, False)  # (closed: its terms as a restored book gives them)

    def confirm_entry(self, e: Entry, amount: int, filled: int) -> None:
        """``confirm`` of the live record ``e``."""
        pending = e.pending
        if not 0 <= amount <= pending or filled < 0:
            raise FillStateError(
                f"cannot confirm {amount} (filled {filled}): order has {pending} pending"
            )
        account = e.account
        if filled == amount and account.spend(filled):
            # The usual case, kept cheap: remaining is unchanged, and the maker's spendable and
            # reserved both drop by ``amount``, so no order's allocation moves.
            account.reserved -= amount
            pending -= amount
            e.pending = pending
            e.filled += filled
            if e.closed is None:
                if e.filled == e.maker_amount:
                    self.close(e, _FILLED)
                    return
                if e.aon or e.maker_amount - e.filled < e.lot:
                    self._reunit(e)  # its rest: all or nothing, or dust
                if pending == 0 and e.maker_amount - e.filled < e.lot:
                    self.close(e, _DUST)
                elif e.parked and e.fillable >= e.lot:  # blocked with fills in flight
                    self._unpark(e)
            elif pending == 0:
                self._forget(e)
            elif e.aon or e.maker_amount - e.filled < e.lot:
                self._reunit(e, False)  # (closed: its terms as a restored book gives them)
            return
        spendable = account.spendable
        if spendable is not None:
            account.set_spendable(spendable - filled if spendable > filled else 0)
        self._set_state(e, e.filled + filled, pending - amount)

    def release(self, order_hash: bytes, amount: int) -> None:
        """A reserved fill will not settle: offer ``amount`` again at the order's old priority.

        The book may now be crossed; the node re-matches (``MatchingEngine.rematch``).
        """
        e = self.entry(order_hash)
        if not 0 <= amount <= e.pending:
            raise FillStateError(f"cannot release {amount}: order has {e.pending} pending")
        self._set_state(e, e.filled, e.pending - amount)

    def set_filled(self, order_hash: bytes, filled: int) -> None:
        """The chain's filled amount for an order (fills made elsewhere): shrink or forget it.

        Pending fills that no longer fit (``filled + pending > maker_amount``) cannot settle
        and are dropped.
        """
        e = self.entry(order_hash)
        if not 0 <= filled <= e.maker_amount:
            raise FillStateError(f"filled {filled} is outside 0..{e.maker_amount}")
        self._set_state(e, filled, e.pending)

    def _set_state(self, e: Entry, filled: int, pending: int) -> None:
        m = e.maker_amount
        if filled > m:
            filled = m
        if pending > m - filled:  # in-flight fills beyond the order cannot settle
            pending = m - filled
        account = e.account
        old_remaining = m - e.filled - e.pending
        account.reserved += pending - e.pending
        e.filled = filled
        e.pending = pending
        if e.closed is not None:
            if e.aon or m - filled < e.lot:
                self._reunit(e, False)  # (as a restored book gives them)
            self._reallocate(account)  # freed reservations may fund the maker's other orders
            if pending == 0:
                self._forget(e)
            return
        remaining = m - filled - pending
        account.open += remaining - old_remaining
        if filled < m and (e.aon or m - filled < e.lot):
            self._reunit(e, False)  # (reallocated below if the maker is short)
        if filled == m:
            self.close(e, _FILLED)
        elif pending == 0 and remaining < e.lot:
            self.close(e, _DUST)
        elif account.funded and account.covers():
            level = e.level
            if level is not None and not e.parked:  # in the queue: its level's total moves
                level.add(remaining - e.fillable)
            e.fillable = remaining
            self._fit(e)
        else:
            self._reallocate(account)
            self._fit(e)  # its own fillable may be unchanged while its remaining moved

    # ---- snapshot ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain JSON-able data from which ``restore`` rebuilds an identical book (its
        ``minimums`` as ``"minimums"``, only when it has some)."""
        data: dict[str, Any] = {
            "version": SNAPSHOT_VERSION,
            "seq": self._seq,
            "defaultFunds": _opt_str(self.default_funds),
            "pairs": [[p.base, p.quote] for p in self._pairs.values()],
            "funds": [  # set by the node, or the default lowered by confirmed fills
                {"maker": a.maker, "token": a.token, "spendable": _opt_str(a.spendable)}
                for a in self.accounts()
                if a.explicit or a.spendable != self.default_funds
            ],
            "orders": [
                {
                    "order": e.signed.to_json(),
                    "hash": "0x" + e.hash.hex(),
                    "seq": e.seq,
                    "filled": str(e.filled),
                    "pending": str(e.pending),
                    "resting": e.resting,
                    "parked": e.parked,
                    "deferred": e.parked and e.level is None,
                    "closed": None if e.closed is None else e.closed.value,
                    **({"late": True} if e.late else {}),
                }
                for e in sorted(self._index.values(), key=seq_of)
            ],
        }
        if self.late_by:  # (held late: ``sdex.book.late``; left60: restored as unfunded)
            data["lateBy"] = self.late_by
        if self.minimums:
            data["minimums"] = {t: str(v) for t, v in self.minimums.items()}
        return data

    @classmethod
    def restore(cls, data: dict[str, Any]) -> OrderBook:
        """The book ``snapshot`` described: same orders, fill state, priorities and funds.

        Hashes are taken from the snapshot (the node's own data), not recomputed.
        """
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {data.get('version')!r}")
        book = cls([(b, q) for b, q in data["pairs"]], default_funds=_opt_int(data["defaultFunds"]))
        book.minimums = {str(t): int(v) for t, v in data.get("minimums", {}).items()}
        for f in data["funds"]:
            book.set_funds(f["maker"], f["token"], _opt_int(f["spendable"]))
        placed: list[tuple[Entry, bool, bool]] = []
        late: list[Entry] = []
        for rec in data["orders"]:
            raw = rec["order"]
            signed = SignedOrder(
                order=Order.from_json(raw),
                signature=parse_hex_bytes(raw["signature"], "signature"),
                hash=parse_hex_bytes(rec["hash"], "hash"),
            )
            found = book.side_of(signed.order)
            if found is None:
                raise unknown_pair(signed.order)
            o = signed.order
            seq, filled, pending = int(rec["seq"]), int(rec["filled"]), int(rec["pending"])
            account = book._account(o.maker, o.maker_token)
            m, t, fee = o.maker_amount, o.taker_amount, o.fee_amount
            e = book._insert(
                signed, o, signed.hash, found, account, seq, filled, pending, m, t, fee
            )
            if rec["closed"] is not None:
                e.account.open -= e.remaining
                e.account.live -= 1
                if not e.account.live:
                    book._sold_out(e.account)
                e.closed = RemovalReason(rec["closed"])
                e.fillable = 0
            elif rec["resting"]:
                parked, deferred = bool(rec.get("parked")), bool(rec.get("deferred"))
                placed.append((e, parked, deferred))
                if rec.get("late") is True:
                    late.append(e)
        book._seq = int(data["seq"])
        if not 0 <= book._seq < SEQ_LIMIT or any(e.seq > book._seq for e, _, _ in placed):
            raise ValueError(f"snapshot seq {book._seq} out of range")
        for account in list(book.accounts()):
            if not account.live:
                account.orders = []  # closed ones only (as ``close`` leaves them)
            book._reallocate(account)
        for e, parked, deferred in placed:
            book.place(e, park=parked, defer=deferred)
        for e in late:  # (parked, out of the queues: held so, as ``late.hold`` left them)
            e.late = True
            book.late[e.hash] = e
        book.late_by = int(data.get("lateBy", 0))
        return book


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: str | None) -> int | None:
    return None if value is None else int(value)
