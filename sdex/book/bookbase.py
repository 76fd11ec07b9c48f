"""The order book's state and its registries: pairs, routes, maker accounts and lookups by
hash. ``BookCore`` (``sdex.book.bookcore``) moves orders through it and ``OrderBook``
(``sdex.book.orderbook``) adds fill state and snapshots; this is their base, not used alone."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

from sdex.book.errors import UnknownOrder, UnknownPair
from sdex.book.levels import Account, BookSide, Entry
from sdex.book.pairbook import PairBook, entry_state
from sdex.book.types import BookOrderState, Side
from sdex.order import Order

_ADDRESS_RE: Final = re.compile(r"0x[0-9a-f]{40}\Z")
NO_EXPIRY: Final = 2**61  # ``next_expiry_at`` of an empty expiry index: past any block time


class BookBase:
    """The state of ``OrderBook`` (see there) and what only reads it or adds to its
    registries: pairs, routes, accounts and lookups. ``BookCore`` moves orders in and out
    of their levels; not used alone."""

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
        # maker -> its accounts, one per token sold, chained by ``Account.next``: one dict
        # for all makers (a dict per maker missed the caches on a book of many makers)
        self._accounts: dict[str, Account] = {}
        # token of a pair -> the makers with open orders selling it (``Account.live`` above
        # 0): only their private ladders are visited by ``uncross`` (left53: one lookup per
        # ladder, ~7 ms at 20,000 takers, though few of them had an order to cross one with)
        self.sellers: dict[str, set[str]] = {}
        # resting orders by expiry: a heap of the distinct expiries, the orders of each
        self._expiry_heap: list[int] = []
        self._expiry_at: dict[int, list[Entry]] = {}  # open orders only (``_index_expiry``)
        # heap[0], or NO_EXPIRY: read by the engine on every incoming order, natively
        self.next_expiry_at = NO_EXPIRY
        # the bucket of the last expiry indexed (orders often share one): a dict lookup less
        self._last_expiry = 0
        self._last_bucket: list[Entry] | None = None
        self._seq = 0
        self._stale: list[Entry] = []  # fills that may leave a maker's funds to share again
        self.late: dict[bytes, Entry] = {}  # held apart: expire within the landing window
        self.late_by = 0  # each of them expires by it (``sdex.book.late``)
        # token -> the least amount of it an order trades (base units; none if absent): an
        # entry's ``lot`` (``Entry.lot``), below which what it offers or has left is dust
        self.minimums: dict[str, int] = {}
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
        for token in (base, quote):
            self.sellers.setdefault(token, set())
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

    def funds(self, maker: str, token: str) -> int | None:
        """The spendable amount the book assumes for (maker, token)."""
        account = self._find_account(maker, token)
        return self.default_funds if account is None else account.spendable

    def reserved(self, maker: str, token: str) -> int:
        """What fills in flight of (maker, token) hold (matched, not settled or released)."""
        account = self._find_account(maker, token)
        return 0 if account is None else account.reserved

    def _find_account(self, maker: str, token: str) -> Account | None:
        account = self._accounts.get(maker)
        while account is not None and account.token != token:
            account = account.next
        return account

    def _account(self, maker: str, token: str) -> Account:
        """The account of (maker, token), made if new (with ``default_funds``)."""
        account = self._accounts.get(maker)
        if account is None:
            account = self._accounts[maker] = Account(maker, token, self.default_funds)
            return account
        while account.token != token:
            last = account
            account = account.next
            if account is None:  # new accounts go last (snapshots list them in that order)
                account = last.next = Account(maker, token, self.default_funds)
                break
        return account

    def _selling(self, account: Account) -> None:
        """``account``'s first open order: its maker sells its token (``sellers``, a set
        for each token of a pair: ``add_pair``)."""
        self.sellers[account.token].add(account.maker)

    def _sold_out(self, account: Account) -> None:
        """``account``'s last open order closed: out of ``sellers``."""
        self.sellers[account.token].discard(account.maker)

    def _drop_account(self, account: Account) -> None:
        prev: Account | None = None
        at = self._accounts.get(account.maker)
        while at is not None and at is not account:
            prev, at = at, at.next
        if at is None:
            return
        if prev is not None:
            prev.next = account.next
        elif account.next is not None:
            self._accounts[account.maker] = account.next
        else:
            del self._accounts[account.maker]
        account.next = None

    def accounts(self) -> Iterator[Account]:
        """Every (maker, token) account the book keeps (live records)."""
        for first in self._accounts.values():
            account: Account | None = first
            while account is not None:
                yield account
                account = account.next

    def side_of(self, order: Order) -> BookSide | None:
        """The side of its pair an order belongs to, if the book trades its tokens."""
        routes = self._routes.get(order.maker_token)
        return None if routes is None else routes.get(order.taker_token)

    # ---- lookups -------------------------------------------------------------------------------

    def entry(self, order_hash: bytes) -> Entry:
        """The live record of an order (``sdex.matching`` and tests); ``get`` for a view."""
        e = self._index.get(order_hash)
        if e is None:
            raise UnknownOrder(f"order 0x{order_hash.hex()} is not in the book")
        return e

    def orders_of(self, maker: str, token: str) -> Iterator[Entry]:
        """The open orders of ``maker`` that sell ``token``, in seq order (live records)."""
        account = self._find_account(maker, token)
        if account is not None:
            yield from account.open_orders()

    def find(self, order_hash: bytes) -> Entry | None:
        """The live record of an order, None if the book does not hold it (read its fields,
        ``entry_status``: no view built, ~2 us each in the Python source, settle27)."""
        return self._index.get(order_hash)

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
