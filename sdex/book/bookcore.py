"""The order book's structure: orders in and out of their levels, expiry and maker funds.
``OrderBook`` (``sdex.book.orderbook``) adds fill state and snapshots; this is its base (on
``sdex.book.bookbase``'s state and registries), not used alone."""

from __future__ import annotations

import heapq
from typing import Final

from sdex.book.bookbase import NO_EXPIRY, BookBase, unknown_pair
from sdex.book.errors import DuplicateOrder, FillStateError, InvalidOrder, UnknownOrder
from sdex.book.funds import allocate
from sdex.book.ladder import drop, ladder_at, ladder_of, level_at, level_of, price_of
from sdex.book.late import forget as forget_late
from sdex.book.levels import Account, BookSide, Entry, Level
from sdex.book.prices import int_gcd
from sdex.book.queue import BLOCK_MASK
from sdex.book.terms import all_or_nothing, minimum_lot, own_terms
from sdex.book.total import CHUNK
from sdex.book.types import RemovalReason
from sdex.fillmath import MAX_MAKER_AMOUNT, UINT256_MAX
from sdex.order import ZERO_ADDRESS, Order, SignedOrder

_DUST: Final = RemovalReason.DUST
_EXPIRED: Final = RemovalReason.EXPIRED
_SMALL: Final = 2**60  # below it, an int is a machine int in the compiled book
_MAX_MAKER_AMOUNT: Final = MAX_MAKER_AMOUNT  # (module constants, not looked up at each use)
_UINT256_MAX: Final = UINT256_MAX
_ZERO_ADDRESS: Final = ZERO_ADDRESS


class BookCore(BookBase):
    """The structure of ``OrderBook`` (see there): orders in and out of their levels,
    expiry and maker funds, on ``BookBase``'s state; fill state and snapshots are
    ``OrderBook``'s."""

    # ---- adding and removing ---------------------------------------------------------------

    def add(self, signed: SignedOrder, *, filled: int = 0) -> None:
        """Rest an order without matching it (tests; the node submits to the engine)."""
        self.rest(self.register(signed, filled=filled))

    def register(self, signed: SignedOrder, *, filled: int = 0) -> Entry:
        """Take an order's fill state into the book, not yet resting: ``sdex.matching``'s entry.

        Raises ``UnknownPair``, ``InvalidOrder`` (what the contract would reject, or nothing
        left to fill) or ``DuplicateOrder``; then the book is unchanged.
        """
        order = signed.order
        token = order.maker_token
        routes = self._routes.get(token)
        book_side = None if routes is None else routes.get(order.taker_token)
        if book_side is None:
            raise unknown_pair(order)
        m = order.maker_amount
        t = order.taker_amount
        fee = order.fee_amount
        # (compared with a machine-sized bound first: the usual amounts are machine ints)
        if not (
            m > 0
            and t > 0
            and (m < _SMALL or m <= _MAX_MAKER_AMOUNT)
            and (t < _SMALL or t <= _UINT256_MAX)
        ):
            raise InvalidOrder(
                f"makerAmount must be in 1..2**255-1 and takerAmount in 1..2**256-1, "
                f"got {m} and {t}"
            )
        if fee and not (0 < fee <= t and order.fee_recipient != _ZERO_ADDRESS):
            raise InvalidOrder(
                f"feeAmount {fee} must be in 0..takerAmount ({t}) and needs a feeRecipient"
            )
        if not 0 <= filled < m:
            raise InvalidOrder(f"filled {filled} leaves nothing of makerAmount {m} to fill")
        seq = self._seq + 1
        # (a duplicate's account exists already: its twin in the index is the same maker's)
        account = self._account(order.maker, token)
        e = self._insert(signed, order, signed.hash, book_side, account, seq, filled, 0, m, t, fee)
        self._seq = seq
        return e

    def _insert(
        self,
        signed: SignedOrder,
        order: Order,
        h: bytes,
        book_side: BookSide,
        account: Account,
        seq: int,
        filled: int,
        pending: int,
        m: int,
        t: int,
        fee: int,
    ) -> Entry:
        """Index an order (``order``, ``h``: its ``Order`` and hash; ``m``, ``t``, ``fee``: its
        maker, taker and fee amounts, all read by the caller already) and book its amounts on
        its account. Raises ``DuplicateOrder`` (nothing changed) if ``h`` is in the index."""
        e = Entry(signed, book_side, seq, filled, account, m, t, fee, int_gcd(m, t), order, h)
        if self.minimums:
            minimum_lot(self.minimums, e)
        if filled and m - filled < e.lot:
            all_or_nothing(self.minimums, e)  # (else dust: ``rest`` closes it)
        if self._index.setdefault(h, e) is not e:  # the duplicate check and the insert in one
            raise DuplicateOrder(f"order {signed.hash_hex} is already in the book")
        e.indexed = True
        orders = account.orders
        if len(orders) > 2 * account.live + 16:
            account.orders = orders = [x for x in orders if x.closed is None]
        orders.append(e)
        if not account.live:
            self._selling(account)
        account.live += 1
        remaining = m - filled - pending
        account.open += remaining
        if pending:
            e.pending = pending
            account.reserved += pending
        if account.funded and account.covers():  # fully funded: only this order's fillable moves
            e.fillable = remaining
        else:
            self._reallocate(account)
        return e

    def _reunit(self, e: Entry, realloc: bool = True) -> None:
        """``e``'s filled amount moved: its terms follow (its own price's, all or nothing,
        or left as they are for ``f`` that is dust: the caller closes it), and it moves to
        the level of its new price. Terms are a function of ``filled`` alone (pending fills
        come and go without changing them), so every node and a restored book agree."""
        f = e.maker_amount - e.filled
        if not e.aon and (f >= e.lot or f <= 0):
            return  # (its own price's terms, which do not depend on ``filled``)
        unit, tunit, aon = e.unit, e.tunit, e.aon
        side = ladder_at(e)
        level = e.level
        # a deferred entry (all in flight) left a dead slot in its level's queue (``fill``)
        if side is not None and level is None and e.parked:
            stale = side.levels.get(price_of(side, e))
        else:
            stale = None
        own_terms(self.minimums, e)
        if 0 < f < e.lot:
            all_or_nothing(self.minimums, e)
        if e.unit == unit and e.tunit == tunit and e.aon == aon:
            return
        if level is not None:  # to the level of its new price
            if e.parked:
                del level.parked[e.hash]
                e.parked = False
            else:
                level.add(-e.fillable)
                if e.aon != aon:  # ``take`` counts by its new terms: by its old ones here
                    level.aons += (1 if e.aon else 0) - (1 if aon else 0)
                level.take(e)
            e.level = None
            stale = level
        if stale is not None:
            # its slot there goes before it is live elsewhere (a slot is live by its
            # entry's ``dead`` flag); rare, so O(level) as ``Level.unpark``
            if stale.live == 0 and not stale.parked:
                self.tidy(stale.side, stale)
            stale.compact()
        if level is not None:
            self._enter_level(e, e.fillable < e.lot)
        if realloc and not e.account.funded:
            self._reallocate(e.account)  # its lot moved: the maker's shares may

    def rest(self, e: Entry, *, blocked: bool = False) -> RemovalReason | None:
        """Rest a registered (and matched) entry at its price level, or close it as dust.

        What is left of it is dust when it is less than one unit at its own price
        (``Entry.unit``), or when ``blocked`` (the matching walk met an order across it
        could not trade with for its size, see ``sdex.matching``) and funds are no excuse.
        Dust with fills in flight rests parked (a failed fill gives it more); without, the
        entry is closed with ``RemovalReason.DUST``, which is returned.
        """
        if e.closed is None:  # ``_dust`` and ``place``'s usual case, inlined
            if not e.pending:
                remaining = e.maker_amount - e.filled
                if remaining < e.lot or (blocked and e.fillable == remaining):
                    self.close(e, _DUST)
                    return _DUST
            if not blocked and e.level is None and not e.parked and e.fillable >= e.lot:
                self._enqueue(e)  # it offers something, so not all in flight: not deferred
                return None
        self.place(e, park=blocked)
        return None

    def settle(self, e: Entry, *, blocked: bool) -> RemovalReason | None:
        """After ``e`` (resting) was matched as the incoming side: park or close it as
        ``rest`` would have rested it. Returns ``RemovalReason.DUST`` if closed."""
        if e.closed is not None or not e.resting:
            return None
        reason = self._dust(e, blocked)
        if reason is not None:
            self.close(e, reason)
            return reason
        level = e.level
        if level is not None and not e.parked and (blocked or e.fillable < e.lot):
            level.park(e)
        return None

    @staticmethod
    def _dust(e: Entry, blocked: bool) -> RemovalReason | None:
        if e.closed is not None or e.pending:
            return None
        remaining = e.maker_amount - e.filled
        if remaining < e.lot or (blocked and e.fillable == remaining):
            return _DUST
        return None

    def place(self, e: Entry, *, park: bool = False, defer: bool | None = None) -> None:
        """Rest a registered entry at the tail of its price level (parked if it cannot
        trade now, or if ``park``).

        An entry with nothing left but fills in flight rests *deferred*: parked without a
        level (most such fills settle, and then it is gone); it enters its level if a fill
        is released or its funds grow.
        """
        if e.closed is not None or e.level is not None or e.parked:
            return
        if defer is None:
            defer = e.filled + e.pending == e.maker_amount  # all in flight
        if defer:  # not in the expiry index until it enters its level (``_undefer``)
            e.parked = True
            return
        if park or e.fillable < e.lot:
            self._index_expiry(e)
            self._enter_level(e, True)
            return
        self._enqueue(e)

    def _enqueue(self, e: Entry) -> None:
        """``place`` of an entry that can trade: into the expiry index and at the tail of its
        level's queue (``_index_expiry``, ``ladder.level_of`` and ``Level.push``'s usual
        cases inlined: the path of every new order that rests)."""
        bucket = self._last_bucket
        if bucket is not None and e.expiry == self._last_expiry:
            e.xpos = len(bucket)
            bucket.append(e)
            e.xbucket = bucket
        else:
            self._index_expiry(e)
        side = e.book_side if e.taker == _ZERO_ADDRESS else ladder_of(e)
        if e.aon:
            level = level_of(side, e)
        elif side.is_ask:
            level = level_at(side, e.tunit, e.unit)
        else:
            level = level_at(side, e.unit, e.tunit)
        queue = level.queue
        if queue and (queue[-1].seq > e.seq or len(queue) - level.head > 2 * level.live + 16):
            level.push(e)  # out of seq order, or time to compact
        else:  # Level.push's usual case, inlined
            n = len(queue)
            e.slot = n
            if not n & BLOCK_MASK:
                level.dead_in.append(0)
            queue.append(e)
            level.live += 1
            e.level = level
            if e.aon:
                level.count_aon(e)
            e.dead = False
            low = level.low + e.fillable  # (``Level.add``, inlined)
            if low < CHUNK:
                level.low = low
            else:
                level.carry(low)
            if level.logged < side.taken:
                side.moved(level)

    def _index_expiry(self, e: Entry) -> None:
        """Only orders at a level expire in the book (IOC/FOK never rest, and a deferred
        order is not offered: filled when its fills settle, or indexed when one fails).

        A bucket holds exactly the open orders of its expiry: ``close`` takes an order out
        at once (``_unindex_expiry``, O(1)), so a closed order is not kept reachable (and
        its memory cold) until a sweep: it is freed while it is still in the caches."""
        exp = e.expiry
        bucket = self._last_bucket
        if bucket is None or exp != self._last_expiry:
            bucket = self._expiry_at.get(exp)
            if bucket is None:
                bucket = self._expiry_at[exp] = []
                heapq.heappush(self._expiry_heap, exp)
                self.next_expiry_at = self._expiry_heap[0]
            self._last_expiry = exp
            self._last_bucket = bucket
        e.xpos = len(bucket)
        bucket.append(e)
        e.xbucket = bucket

    def _unindex_expiry(self, e: Entry) -> None:
        """Take ``e`` out of its expiry bucket: the bucket's last order takes its slot. An
        emptied bucket leaves the index, and the heap is rebuilt once mostly stale: orders
        placed and cancelled with ever new expiries leave nothing behind."""
        bucket = e.xbucket
        if bucket is None:
            return
        e.xbucket = None
        last = bucket.pop()
        if last is not e:
            i = e.xpos
            bucket[i] = last
            last.xpos = i
        elif not bucket:
            if self._expiry_at.get(e.expiry) is bucket:
                del self._expiry_at[e.expiry]
            if bucket is self._last_bucket:
                self._last_bucket = None
            heap = self._expiry_heap
            if len(heap) > 2 * len(self._expiry_at) + 64:
                heap[:] = list(self._expiry_at)  # in place: ``expire`` may hold the list
                heapq.heapify(heap)
                self.next_expiry_at = heap[0] if heap else NO_EXPIRY

    def _undefer(self, e: Entry, park: bool) -> None:
        """A deferred entry (parked without a level) has something to offer again."""
        e.parked = False
        if e.xbucket is None:  # deferred when placed (an order in flight from the start)
            self._index_expiry(e)
        self._enter_level(e, park)

    def _enter_level(self, e: Entry, park: bool) -> None:
        level = level_of(ladder_of(e), e)
        # cannot trade now: out of the matching walk's way (a ``late`` one neither, review60:
        # a fill that made it all or nothing put it in the queue of that level, in depth)
        if park or e.late:
            level.park_new(e)
            return
        # Only a deferred entry comes back this way (``_fit``, ``_unpark``): ``fill`` left its
        # slot in this queue marked dead, and past the head when the walk passed an older
        # order that stayed. That slot goes before the entry is live again, or the level
        # would hold it twice. Rare (a released fill), so O(level) as ``Level.unpark``.
        e.dead = True
        if len(level.queue) - level.head > level.live:  # dead slots past the head
            level.compact()
        level.push(e)

    def unregister(self, e: Entry) -> None:
        """Forget an entry that never rested and has nothing pending (a killed FOK, say)."""
        if e.resting or e.pending:
            raise FillStateError("only an unplaced order with nothing pending can be unregistered")
        self.close(e, RemovalReason.UNMATCHED)

    def remove(self, order_hash: bytes, reason: RemovalReason) -> None:
        """Stop offering an order (cancelled, invalid, ...). Fills in flight keep it known."""
        e = self._index.get(order_hash)
        if e is None:
            raise UnknownOrder(f"order 0x{order_hash.hex()} is not in the book")
        self.close(e, reason)

    def close(self, e: Entry, reason: RemovalReason, *, tidy: bool = True) -> bool:
        """Stop offering ``e``; forget it once nothing is pending.

        ``tidy=False`` (used while ``sdex.matching`` walks a level) leaves empty levels and
        dead entries for the walker to clean up (``tidy``). Returns whether the maker's
        other orders got more funds (they may be fillable again anywhere, at prices a walk
        passed).
        """
        if e.closed is not None:
            return False
        account = e.account
        pending = e.pending
        account.open -= e.maker_amount - e.filled - pending
        account.live -= 1
        if not account.live:
            self._sold_out(account)
            account.orders = []  # all closed: drop them now (see ``_index_expiry``)
        e.closed = reason
        if e.late:
            forget_late(self, e)
        if e.xbucket is not None:
            self._unindex_expiry(e)
        level = e.level
        if level is not None:
            level.discard(e)  # (its fillable leaves the level's total)
            if tidy:
                self.tidy(level.side, level)
        else:
            e.parked = False  # deferred (no level) or never placed
        e.fillable = 0
        refunded = False
        if not account.funded:
            refunded = self._reallocate(account)  # what it held goes to later orders
        if pending == 0:
            self._forget(e)
        return refunded

    def tidy(self, book_side: BookSide, level: Level) -> None:
        """Drop ``level`` if empty, or compact its queue if mostly dead (``book_side``: its
        side, or a private ladder of it: ``level.side``)."""
        if level.live == 0 and not level.parked:
            if level.listed:
                drop(level.side, level)
        elif len(level.queue) - level.head > 2 * level.live + 16:
            level.compact()

    def _forget(self, e: Entry) -> None:
        del self._index[e.hash]
        e.indexed = False
        account = e.account
        if not account.live and not account.reserved and not account.explicit:
            self._drop_account(account)  # an implicit account no order uses

    def expire(self, now: int) -> list[tuple[bytes, RemovalReason]]:
        """Close every resting order with ``now >= expiry`` (the contract's rule); call once a
        block. (Orders being matched are the engine's to judge.)"""
        heap = self._expiry_heap
        out: list[tuple[bytes, RemovalReason]] = []
        while heap and heap[0] <= now:
            bucket = self._expiry_at.pop(heapq.heappop(heap), None)
            if bucket is None:  # emptied by cancels and fills (``_unindex_expiry``)
                continue
            self._last_bucket = None
            for e in bucket:  # out of the index first: ``close`` would move the others
                e.xbucket = None
            for e in bucket:
                if e.closed is None and self._index.get(e.hash) is e:
                    self.close(e, _EXPIRED)
                    out.append((e.hash, _EXPIRED))
        self.next_expiry_at = heap[0] if heap else NO_EXPIRY
        return out

    def next_expiry(self) -> int | None:
        """The earliest expiry among the orders offered (or recently closed), if any."""
        return self._expiry_heap[0] if self._expiry_heap else None

    # ---- funds -------------------------------------------------------------------------------

    def set_funds(self, maker: str, token: str, amount: int | None) -> None:
        """The maker's spendable ``min(balance, allowance)`` of ``token``; None lifts the cap.

        The book may now be crossed (an unfunded order became fillable): the node
        re-matches with ``MatchingEngine.uncross``.
        """
        if amount is not None and amount < 0:
            raise ValueError("spendable amount must be >= 0")
        account = self._account(maker, token)
        account.set_spendable(amount)
        account.explicit = True
        self._reallocate(account)

    def _reallocate(self, account: Account) -> bool:
        """Apply ``funds.allocate``; returns whether some order can trade more than before."""
        changes, account.funded = allocate(account)
        grew = False
        for e, fillable in changes:
            old = e.fillable
            grew |= fillable > old
            e.fillable = fillable
            level = e.level
            if level is not None and not e.parked:  # in the queue: its level's total moves
                level.add(fillable - old)
            self._fit(e)
        return grew

    def _fit(self, e: Entry) -> None:
        """Park or unpark resting ``e`` after its fillable moved."""
        level = e.level
        if level is None:
            if e.parked and e.maker_amount - e.filled - e.pending:  # deferred, and no more
                self._undefer(e, e.fillable < e.lot)  # all in flight: enters its level now
            return
        if e.parked:
            if e.fillable >= e.lot:
                level.unpark(e)
        elif e.fillable < e.lot:
            level.park(e)

    def _unpark(self, e: Entry) -> None:
        if e.parked:
            level = e.level
            if level is None:
                self._undefer(e, False)
            else:
                level.unpark(e)
