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

import heapq
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from sdex.book.errors import (
    DuplicateOrder,
    FillStateError,
    InvalidOrder,
    UnknownOrder,
    UnknownPair,
)
from sdex.book.funds import Account
from sdex.book.levels import Entry
from sdex.book.pairbook import PairBook, entry_state
from sdex.book.types import OrderState, RemovalReason, Side
from sdex.fillmath import MAX_MAKER_AMOUNT, UINT256_MAX
from sdex.order import ZERO_ADDRESS, Order, SignedOrder, parse_hex_bytes

SNAPSHOT_VERSION = 1
_ADDRESS_RE = re.compile(r"0x[0-9a-f]{40}\Z")


class OrderBook:
    """Every pair's book plus shared maker funds; orders identified by hash.

    ``default_funds`` is the spendable amount assumed for a (maker, token) the node never
    reported with ``set_funds``: 0 (the default) keeps such orders unfunded, as a node
    should; ``None`` means no cap, for tests and benchmarks that don't model balances.
    """

    def __init__(
        self, pairs: Iterable[tuple[str, str]] = (), *, default_funds: int | None = 0
    ) -> None:
        if default_funds is not None and default_funds < 0:
            raise ValueError("default_funds must be >= 0 or None")
        self.default_funds = default_funds
        self._pairs: dict[tuple[str, str], PairBook] = {}
        self._routes: dict[tuple[str, str], tuple[PairBook, Side]] = {}
        self._index: dict[bytes, Entry] = {}
        self._accounts: dict[tuple[str, str], Account] = {}
        self._expiries: list[tuple[int, int, Entry]] = []  # heap; stale items skipped
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
        self._pairs[(base, quote)] = book
        self._routes[(base, quote)] = (book, Side.ASK)
        self._routes[(quote, base)] = (book, Side.BID)
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
        found = self._routes.get((order.maker_token, order.taker_token))
        if found is None:
            raise _unknown_pair(order)
        return found

    # ---- adding and removing ---------------------------------------------------------------

    def add(self, signed: SignedOrder, *, filled: int = 0) -> None:
        """Rest an order without matching it (tests; the node submits to the engine)."""
        self.place(self.register(signed, filled=filled))

    def register(self, signed: SignedOrder, *, filled: int = 0) -> Entry:
        """Take an order's fill state into the book, not yet resting: ``sdex.matching``'s entry.

        Raises ``UnknownPair``, ``InvalidOrder`` (what the contract would reject, or nothing
        left to fill) or ``DuplicateOrder``; then the book is unchanged.
        """
        order = signed.order
        found = self._routes.get((order.maker_token, order.taker_token))
        if found is None:
            raise _unknown_pair(order)
        pair, side = found
        m = order.maker_amount
        t = order.taker_amount
        fee = order.fee_amount
        if not (0 < m <= MAX_MAKER_AMOUNT and 0 < t <= UINT256_MAX):
            raise InvalidOrder(
                f"makerAmount must be in 1..2**255-1 and takerAmount in 1..2**256-1, "
                f"got {m} and {t}"
            )
        if fee and not (0 < fee <= t and order.fee_recipient != ZERO_ADDRESS):
            raise InvalidOrder(
                f"feeAmount {fee} must be in 0..takerAmount ({t}) and needs a feeRecipient"
            )
        if not 0 <= filled < m:
            raise InvalidOrder(f"filled {filled} leaves nothing of makerAmount {m} to fill")
        if signed.hash in self._index:
            raise DuplicateOrder(f"order {signed.hash_hex} is already in the book")
        self._seq += 1
        return self._insert(signed, pair, side, self._seq, filled, 0)

    def _insert(
        self, signed: SignedOrder, pair: PairBook, side: Side, seq: int, filled: int, pending: int
    ) -> Entry:
        order = signed.order
        key = (order.maker, order.maker_token)
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = Account(key[0], key[1], self.default_funds)
        e = Entry(signed, pair, side, seq, filled, account)
        self._index[signed.hash] = e
        account.orders[signed.hash] = e
        remaining = order.maker_amount - filled - pending
        account.open += remaining
        if pending:
            e.pending = pending
            account.reserved += pending
        spendable = account.spendable
        if account.funded and (
            spendable is None or account.open + account.reserved <= spendable
        ):  # fully funded: only this order's fillable moves (Account.refresh's fast path)
            e.fillable = remaining
        else:
            account.refresh(e)
        return e

    def place(self, e: Entry) -> None:
        """Rest a registered entry at the tail of its price level."""
        if e.resting or e.closed is not None:
            return
        order = e.order
        if e.side is Side.ASK:  # quote per base
            num, den = order.taker_amount, order.maker_amount
            side = e.pair.asks
        else:
            num, den = order.maker_amount, order.taker_amount
            side = e.pair.bids
        g = math.gcd(num, den)
        if g != 1:
            num //= g
            den //= g
        level = side.levels.get((num, den))
        if level is None:
            level = side.level(num, den)
        queue = level.queue
        if queue and (queue[-1].seq > e.seq or len(queue) - level.head > 2 * level.live + 16):
            level.push(e)  # out of seq order, or time to compact
        else:  # Level.push's usual case, inlined
            queue.append(e)
            level.live += 1
            e.level = level
        e.resting = True
        heap = self._expiries  # only resting orders expire in the book: IOC/FOK never rest
        heapq.heappush(heap, (order.expiry, e.seq, e))
        if len(heap) > 2 * len(self._index) + 1024:  # mostly closed orders: drop them
            self._expiries = [item for item in heap if item[2].closed is None]
            heapq.heapify(self._expiries)
        if e.fillable == 0:  # unfunded, or all of it pending: out of the matching walk's way
            level.park(e)

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

    def close(self, e: Entry, reason: RemovalReason, *, tidy: bool = True) -> None:
        """Stop offering ``e``; forget it once nothing is pending.

        ``tidy=False`` (used while ``sdex.matching`` walks a level) leaves empty levels and
        dead entries for the walker to clean up.
        """
        if e.closed is not None:
            return
        account = e.account
        if account.orders.pop(e.hash, None) is not None:
            account.open -= e.maker_amount - e.filled - e.pending
        e.closed = reason
        e.fillable = 0
        level = e.level
        if level is not None:
            level.discard(e)
            if tidy:
                if level.live == 0 and not level.parked:
                    (e.pair.asks if e.side is Side.ASK else e.pair.bids).drop(level)
                elif len(level.queue) - level.head > 2 * level.live + 16:
                    level.compact()
        if not account.funded:
            account.refresh()  # what it held goes to the maker's later orders
        if e.pending == 0:
            del self._index[e.hash]
            if not account.orders and not account.reserved and not account.explicit:
                self._drop_account(account)

    def _forget(self, e: Entry) -> None:
        del self._index[e.hash]
        account = e.account
        if not account.orders and not account.reserved and not account.explicit:
            self._drop_account(account)

    def _drop_account(self, account: Account) -> None:
        """Forget an implicit account that no order uses any more (its funds were a default)."""
        key = (account.maker, account.token)
        if self._accounts.get(key) is account:
            del self._accounts[key]

    def expire(self, now: int) -> list[tuple[bytes, RemovalReason]]:
        """Close every resting order with ``now >= expiry`` (the contract's rule); call once a
        block. (Orders being matched are the engine's to judge.)"""
        heap = self._expiries
        out: list[tuple[bytes, RemovalReason]] = []
        while heap and heap[0][0] <= now:
            e = heapq.heappop(heap)[2]
            if e.closed is None and self._index.get(e.hash) is e:
                self.close(e, RemovalReason.EXPIRED)
                out.append((e.hash, RemovalReason.EXPIRED))
        return out

    def next_expiry(self) -> int | None:
        """The earliest expiry among the orders offered (or recently closed), if any."""
        return self._expiries[0][0] if self._expiries else None

    # ---- fill state ------------------------------------------------------------------------

    def reserve(self, order_hash: bytes, amount: int) -> None:
        """Hold ``amount`` of an order's fillable for a proposed match (pending += amount)."""
        self.reserve_entry(self.entry(order_hash), amount)

    def reserve_entry(self, e: Entry, amount: int) -> None:
        if not 0 < amount <= e.fillable:
            raise FillStateError(f"cannot reserve {amount}: order has {e.fillable} fillable")
        # The other orders' allocations don't move: remaining and the funds left for the
        # later orders both drop by ``amount`` (see sdex.book.funds).
        e.pending += amount
        e.fillable -= amount
        account = e.account
        account.open -= amount
        account.reserved += amount
        level = e.level
        if e.fillable == 0 and level is not None and not e.parked:
            level.park(e)

    def confirm(self, order_hash: bytes, amount: int, filled: int | None = None) -> None:
        """A reserved fill settled: ``pending -= amount``, ``filled += filled`` (default amount).

        ``filled`` is what the chain actually filled, which can differ from what was
        proposed (the contract computes the fill from its own state). The maker's cached
        spendable drops by it too: those tokens left the maker. An order filled in full is
        forgotten.
        """
        e = self._index.get(order_hash)
        if e is None:
            raise UnknownOrder(f"order 0x{order_hash.hex()} is not in the book")
        self.confirm_entry(e, amount, amount if filled is None else filled)

    def confirm_entry(self, e: Entry, amount: int, filled: int) -> None:
        """``confirm`` of the live record ``e``."""
        pending = e.pending
        if not 0 <= amount <= pending or filled < 0:
            raise FillStateError(
                f"cannot confirm {amount} (filled {filled}): order has {pending} pending"
            )
        account = e.account
        spendable = account.spendable
        if filled == amount and (spendable is None or spendable >= filled):
            # The usual case, kept cheap: remaining is unchanged, and the maker's spendable and
            # reserved both drop by ``amount``, so no order's allocation moves.
            if spendable is not None:
                account.spendable = spendable - filled
            account.reserved -= amount
            e.pending = pending - amount
            e.filled += filled
            if e.closed is None:
                if e.filled == e.maker_amount:
                    self.close(e, RemovalReason.FILLED)
            elif e.pending == 0:
                self._forget(e)
            return
        if spendable is not None:
            account.spendable = spendable - filled if spendable > filled else 0
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
            account.refresh()  # freed reservations may fund the maker's other orders
            if pending == 0:
                self._forget(e)
            return
        account.open += (m - filled - pending) - old_remaining
        if filled == m:
            self.close(e, RemovalReason.FILLED)
        else:
            account.refresh(e)

    # ---- funds -------------------------------------------------------------------------------

    def set_funds(self, maker: str, token: str, amount: int | None) -> None:
        """The maker's spendable ``min(balance, allowance)`` of ``token``; None lifts the cap.

        The book may now be crossed (an unfunded order became fillable): the node
        re-matches with ``MatchingEngine.uncross``.
        """
        if amount is not None and amount < 0:
            raise ValueError("spendable amount must be >= 0")
        key = (maker, token)
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = Account(maker, token, amount)
        account.spendable = amount
        account.explicit = True
        account.refresh()

    def funds(self, maker: str, token: str) -> int | None:
        """The spendable amount the book assumes for (maker, token)."""
        account = self._accounts.get((maker, token))
        return self.default_funds if account is None else account.spendable

    # ---- lookups -------------------------------------------------------------------------------

    def entry(self, order_hash: bytes) -> Entry:
        """The live record of an order (``sdex.matching`` and tests); ``get`` for a view."""
        e = self._index.get(order_hash)
        if e is None:
            raise UnknownOrder(f"order 0x{order_hash.hex()} is not in the book")
        return e

    def get(self, order_hash: bytes) -> OrderState | None:
        e = self._index.get(order_hash)
        return None if e is None else entry_state(e)

    def __contains__(self, order_hash: object) -> bool:
        return order_hash in self._index

    def __len__(self) -> int:
        """Orders the book knows: offered ones and closed ones with fills in flight."""
        return len(self._index)

    def __iter__(self) -> Iterator[OrderState]:
        """Every order the book knows, in arrival (seq) order."""
        for e in sorted(self._index.values(), key=_seq_of):
            yield entry_state(e)

    # ---- snapshot ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain JSON-able data from which ``restore`` rebuilds an identical book."""
        return {
            "version": SNAPSHOT_VERSION,
            "seq": self._seq,
            "defaultFunds": _opt_str(self.default_funds),
            "pairs": [[p.base, p.quote] for p in self._pairs.values()],
            "funds": [  # set by the node, or the default lowered by confirmed fills
                {"maker": a.maker, "token": a.token, "spendable": _opt_str(a.spendable)}
                for a in self._accounts.values()
                if a.explicit or a.spendable != self.default_funds
            ],
            "orders": [
                {
                    "order": e.signed.to_json(),
                    "hash": "0x" + e.hash.hex(),
                    "seq": e.seq,
                    "filled": str(e.filled),
                    "pending": str(e.pending),
                    "resting": e.level is not None,
                    "closed": None if e.closed is None else e.closed.value,
                }
                for e in sorted(self._index.values(), key=_seq_of)
            ],
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> OrderBook:
        """The book ``snapshot`` described: same orders, fill state, priorities and funds.

        Hashes are taken from the snapshot (the node's own data), not recomputed.
        """
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {data.get('version')!r}")
        book = cls([(b, q) for b, q in data["pairs"]], default_funds=_opt_int(data["defaultFunds"]))
        for f in data["funds"]:
            book.set_funds(f["maker"], f["token"], _opt_int(f["spendable"]))
        for rec in data["orders"]:
            raw = rec["order"]
            signed = SignedOrder(
                order=Order.from_json(raw),
                signature=parse_hex_bytes(raw["signature"], "signature"),
                hash=parse_hex_bytes(rec["hash"], "hash"),
            )
            pair, side = book.route(signed.order)
            e = book._insert(
                signed, pair, side, int(rec["seq"]), int(rec["filled"]), int(rec["pending"])
            )
            if rec["closed"] is not None:
                e.account.orders.pop(e.hash)
                e.account.open -= e.remaining
                e.closed = RemovalReason(rec["closed"])
                e.fillable = 0
            elif rec["resting"]:
                book.place(e)
        book._seq = int(data["seq"])
        for account in book._accounts.values():
            account.funded = False  # force a full reallocation
            account.refresh()
        return book


def _unknown_pair(order: Order) -> UnknownPair:
    return UnknownPair(
        f"order sells {order.maker_token} for {order.taker_token}: "
        "no pair of this book trades these tokens"
    )


def _seq_of(e: Entry) -> int:
    return e.seq


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: str | None) -> int | None:
    return None if value is None else int(value)
