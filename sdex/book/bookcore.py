"""The order book's structure: pairs, orders in and out of their levels, expiry, maker
funds and lookups. ``OrderBook`` (``sdex.book.orderbook``) adds fill state and snapshots;
this is its base, not used alone."""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator
from typing import Final

from sdex.book.errors import (
    DuplicateOrder,
    FillStateError,
    InvalidOrder,
    UnknownOrder,
    UnknownPair,
)
from sdex.book.funds import allocate
from sdex.book.levels import Account, BookSide, Entry, Level, int_gcd
from sdex.book.pairbook import PairBook, entry_state
from sdex.book.types import BookOrderState, RemovalReason, Side
from sdex.fillmath import MAX_MAKER_AMOUNT, UINT256_MAX
from sdex.order import ZERO_ADDRESS, Order, SignedOrder

_DUST: Final = RemovalReason.DUST
_EXPIRED: Final = RemovalReason.EXPIRED
_ADDRESS_RE: Final = re.compile(r"0x[0-9a-f]{40}\Z")
_SMALL: Final = 2**60  # below it, an int is a machine int in the compiled book
_MAX_MAKER_AMOUNT: Final = MAX_MAKER_AMOUNT  # (module constants, not looked up at each use)
_UINT256_MAX: Final = UINT256_MAX
_ZERO_ADDRESS: Final = ZERO_ADDRESS


class BookCore:
    """The structure of ``OrderBook`` (see there): pairs, orders in and out of their levels,
    expiry, maker funds and lookups; fill state and snapshots are ``OrderBook``'s."""

    def __init__(
        self, pairs: Iterable[tuple[str, str]] = (), *, default_funds: int | None = 0
    ) -> None:
        if default_funds is not None and default_funds < 0:
            raise ValueError("default_funds must be >= 0 or None")
        self.default_funds = default_funds
        self._pairs: dict[tuple[str, str], PairBook] = {}
        # maker token -> taker token -> side, and maker -> token -> account: nested by str
        # (hash cached in each str) rather than keyed by a pair, which is a tuple to build
        # and hash on every lookup
        self._routes: dict[str, dict[str, BookSide]] = {}
        self._index: dict[bytes, Entry] = {}
        self._accounts: dict[str, dict[str, Account]] = {}
        # resting orders by expiry: a heap of the distinct expiries, the orders of each
        self._expiry_heap: list[int] = []
        self._expiry_at: dict[int, list[Entry]] = {}
        self._expiry_count = 0
        # the bucket of the last expiry indexed (orders often share one): a dict lookup less
        self._last_expiry = 0
        self._last_bucket: list[Entry] | None = None
        self._seq = 0
        for base, quote in pairs:
            self.add_pair(base, quote)

    # ---- pairs ---------------------------------------------------------------------------

    def add_pair(self, base: str, quote: str) -> PairBook:
        """Trade ``base`` against ``quote`` (lower-case 0x addresses); idempotent."""
        for token in (base, quote):
            if not _ADDRESS_RE.match(token):
                raise ValueError(f"token {token!r} is not a lower-case 0x address")
        if base == quote:
            raise ValueError("a pair needs two different tokens")
        existing = self._pairs.get((base, quote))
        if existing is not None:
            return existing
        if (quote, base) in self._pairs:
            raise ValueError(f"pair {quote}/{base} already exists the other way round")
        book = PairBook(base, quote)
        book.bids.owner = book.asks.owner = self
        self._pairs[(base, quote)] = book
        self._routes.setdefault(base, {})[quote] = book.asks
        self._routes.setdefault(quote, {})[base] = book.bids
        return book

    def pair(self, base: str, quote: str) -> PairBook:
        try:
            return self._pairs[(base, quote)]
        except KeyError:
            raise UnknownPair(f"no pair {base}/{quote} in this book") from None

    @property
    def pairs(self) -> list[PairBook]:
        return list(self._pairs.values())

    def route(self, order: Order) -> tuple[PairBook, Side]:
        """The pair and side an order belongs to: an ask sells base, a bid sells quote."""
        found = self.side_of(order)
        if found is None:
            raise unknown_pair(order)
        if found.side is Side.ASK:
            return self._pairs[(order.maker_token, order.taker_token)], Side.ASK
        return self._pairs[(order.taker_token, order.maker_token)], Side.BID

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
        index = self._index
        h = signed.hash
        if h in index:
            raise DuplicateOrder(f"order {signed.hash_hex} is already in the book")
        seq = self._seq = self._seq + 1
        account = self._account(order.maker, token)
        return self._insert(signed, order, h, book_side, account, seq, filled, 0, m, t, fee)

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
        its account."""
        e = Entry(signed, book_side, seq, filled, account, m, t, fee, int_gcd(m, t), order, h)
        self._index[h] = e
        e.indexed = True
        orders = account.orders
        if len(orders) > 2 * account.live + 16:
            account.orders = orders = [x for x in orders if x.closed is None]
        orders.append(e)
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

    def rest(self, e: Entry, *, blocked: bool = False) -> RemovalReason | None:
        """Rest a registered (and matched) entry at its price level, or close it as dust.

        What is left of it is dust when it is less than one unit at its own price
        (``Entry.unit``), or when ``blocked`` (the matching walk met an order across it
        could not trade with for its size, see ``sdex.matching``) and funds are no excuse.
        Dust with fills in flight rests parked (a failed fill gives it more); without, the
        entry is closed with ``RemovalReason.DUST``, which is returned.
        """
        reason = self._dust(e, blocked)
        if reason is not None:
            self.close(e, reason)
        else:
            self.place(e, park=blocked)
        return reason

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
        if level is not None and not e.parked and (blocked or e.fillable < e.unit):
            level.park(e)
        return None

    @staticmethod
    def _dust(e: Entry, blocked: bool) -> RemovalReason | None:
        if e.closed is not None or e.pending:
            return None
        remaining = e.maker_amount - e.filled
        if remaining < e.unit or (blocked and e.fillable == remaining):
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
        self._index_expiry(e)
        unit = e.unit
        if park or e.fillable < unit:
            self._enter_level(e, True)
            return
        # ``_enter_level`` of an entry that can trade, with ``Level.push``'s usual case inlined
        level = e.book_side.level_of(e)
        queue = level.queue
        if queue and (queue[-1].seq > e.seq or len(queue) - level.head > 2 * level.live + 16):
            level.push(e)  # out of seq order, or time to compact
        else:  # Level.push's usual case, inlined
            queue.append(e)
            level.live += 1
            e.level = level
            e.dead = False

    def _index_expiry(self, e: Entry) -> None:
        """Only orders at a level expire in the book (IOC/FOK never rest, and a deferred
        order is not offered: filled when its fills settle, or indexed when one fails)."""
        e.expiring = True
        exp = e.expiry
        bucket = self._last_bucket
        if bucket is None or exp != self._last_expiry:
            bucket = self._expiry_at.get(exp)
        if bucket is None:
            bucket = self._expiry_at[exp] = [e]
            heapq.heappush(self._expiry_heap, exp)
        else:
            bucket.append(e)
        self._last_expiry = exp
        self._last_bucket = bucket
        count = self._expiry_count = self._expiry_count + 1
        if count > 2 * len(self._index) + 1024:
            self._compact_expiries()

    def _undefer(self, e: Entry, park: bool) -> None:
        """A deferred entry (parked without a level) has something to offer again."""
        e.parked = False
        if not e.expiring:  # deferred when placed (an order in flight from the start)
            self._index_expiry(e)
        self._enter_level(e, park)

    def _enter_level(self, e: Entry, park: bool) -> None:
        level = e.book_side.level_of(e)
        if park:  # cannot trade now: out of the matching walk's way
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

    def _compact_expiries(self) -> None:
        """Drop closed orders from the expiry buckets (mostly closed: filled, cancelled)."""
        count = 0
        self._last_bucket = None
        for exp in list(self._expiry_at):
            kept = [x for x in self._expiry_at[exp] if x.closed is None]
            self._expiry_at[exp] = kept
            count += len(kept)
        self._expiry_count = count

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
        e.closed = reason
        e.fillable = 0
        level = e.level
        if level is not None:
            level.discard(e)
            if tidy:
                self.tidy(e.book_side, level)
        else:
            e.parked = False  # deferred (no level) or never placed
        refunded = False
        if not account.funded:
            refunded = self._reallocate(account)  # what it held goes to later orders
        if pending == 0:
            self._forget(e)
        return refunded

    def tidy(self, book_side: BookSide, level: Level) -> None:
        """Drop ``level`` if empty, or compact its queue if mostly dead."""
        if level.live == 0 and not level.parked:
            if book_side.levels.get((level.num, level.den)) is level:
                book_side.drop(level)
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
            bucket = self._expiry_at.pop(heapq.heappop(heap))
            self._last_bucket = None
            self._expiry_count -= len(bucket)
            for e in bucket:
                if e.closed is None and self._index.get(e.hash) is e:
                    self.close(e, _EXPIRED)
                    out.append((e.hash, _EXPIRED))
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

    def funds(self, maker: str, token: str) -> int | None:
        """The spendable amount the book assumes for (maker, token)."""
        account = self._accounts.get(maker, {}).get(token)
        return self.default_funds if account is None else account.spendable

    def _account(self, maker: str, token: str) -> Account:
        """The account of (maker, token), made if new (with ``default_funds``)."""
        tokens = self._accounts.get(maker)
        if tokens is None:
            tokens = self._accounts[maker] = {}
        account = tokens.get(token)
        if account is None:
            account = tokens[token] = Account(maker, token, self.default_funds)
        return account

    def _drop_account(self, account: Account) -> None:
        tokens = self._accounts.get(account.maker)
        if tokens is not None and tokens.get(account.token) is account:
            del tokens[account.token]
            if not tokens:
                del self._accounts[account.maker]

    def accounts(self) -> Iterator[Account]:
        """Every (maker, token) account the book keeps (live records)."""
        for tokens in self._accounts.values():
            yield from tokens.values()

    def side_of(self, order: Order) -> BookSide | None:
        """The side of its pair an order belongs to, if the book trades its tokens."""
        routes = self._routes.get(order.maker_token)
        return None if routes is None else routes.get(order.taker_token)

    def _reallocate(self, account: Account) -> bool:
        """Apply ``funds.allocate``; returns whether some order can trade more than before."""
        changes, account.funded = allocate(account)
        grew = False
        for e, fillable in changes:
            grew |= fillable > e.fillable
            e.fillable = fillable
            self._fit(e)
        return grew

    def _fit(self, e: Entry) -> None:
        """Park or unpark resting ``e`` after its fillable moved."""
        level = e.level
        if level is None:
            if e.parked and e.maker_amount - e.filled - e.pending:  # deferred, and no more
                self._undefer(e, e.fillable < e.unit)  # all in flight: enters its level now
            return
        if e.parked:
            if e.fillable >= e.unit:
                level.unpark(e)
        elif e.fillable < e.unit:
            level.park(e)

    def _unpark(self, e: Entry) -> None:
        if e.parked:
            level = e.level
            if level is None:
                self._undefer(e, False)
            else:
                level.unpark(e)

    # ---- lookups -------------------------------------------------------------------------------

    def entry(self, order_hash: bytes) -> Entry:
        """The live record of an order (``sdex.matching`` and tests); ``get`` for a view."""
        e = self._index.get(order_hash)
        if e is None:
            raise UnknownOrder(f"order 0x{order_hash.hex()} is not in the book")
        return e

    def orders_of(self, maker: str, token: str) -> Iterator[Entry]:
        """The open orders of ``maker`` that sell ``token``, in seq order (live records)."""
        account = self._accounts.get(maker, {}).get(token)
        if account is not None:
            yield from account.open_orders()

    def get(self, order_hash: bytes) -> BookOrderState | None:
        e = self._index.get(order_hash)
        return None if e is None else entry_state(e)

    def __contains__(self, order_hash: object) -> bool:
        return order_hash in self._index

    def __len__(self) -> int:
        """Orders the book knows: offered ones and closed ones with fills in flight."""
        return len(self._index)

    def __iter__(self) -> Iterator[BookOrderState]:
        """Every order the book knows, in arrival (seq) order."""
        for e in sorted(self._index.values(), key=seq_of):
            yield entry_state(e)


def unknown_pair(order: Order) -> UnknownPair:
    return UnknownPair(
        f"order sells {order.maker_token} for {order.taker_token}: "
        "no pair of this book trades these tokens"
    )


def seq_of(e: Entry) -> int:
    return e.seq
