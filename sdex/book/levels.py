"""The book's mutable records: an order ``Entry``, a maker ``Account``, a FIFO price ``Level``,
and a ``BookSide``. Changed only through ``OrderBook`` (``sdex.book.orderbook``, on its base
``sdex.book.bookcore``).

Prices are exact rationals ``num/den`` (quote per base) reduced by their gcd, so one price
is one level. A side keeps its levels in a plain list, worst price first and best last
(the walk takes and drops levels at the end); where a level goes in it, and when an empty
one is dropped, is ``sdex.book.ladder``'s.

A level's queue of entries in time priority, with O(1) removal and block counts of its dead
slots for deep pages, is its base ``Queue`` (``sdex.book.queue``).

Only entries that can trade now are in the queue: an entry whose ``fillable`` is below its
``unit`` (the least amount that trades at its own price: its fills are pending, its maker is
short of funds) is *parked*: taken out of the queue so that matching never walks past it,
and put back at its time priority (by ``seq``) when it can trade again. So a walk's cost
never grows with entries that cannot trade (nor with orders restricted to other takers,
which rest apart: ``BookSide.private``). Imports of ``sdex.book`` only its types and what is
under it (``ledger``, ``changelog``, ``total``, ``queue``): no import cycles in the package."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterator
from fractions import Fraction
from typing import Final

from sdex.book.changelog import ChangeLog
from sdex.book.ledger import Ledger
from sdex.book.queue import BLOCK_BITS, BLOCK_MASK, Queue, Queued, by_seq
from sdex.book.total import CHUNK
from sdex.book.types import RemovalReason, Side
from sdex.order import Order, SignedOrder


class Account(Ledger):
    """One (maker, token): its ``Ledger`` (spendable, and what its orders owe) and the open
    orders that share it: ``orders``, those selling ``token`` in ``seq`` order; closed ones
    are dropped lazily (``live`` counts the open ones)."""

    __slots__ = ("explicit", "funded", "live", "maker", "next", "orders", "token")

    def __init__(self, maker: str, token: str, spendable: int | None) -> None:
        super().__init__(spendable)
        self.maker = maker
        self.token = token
        self.explicit = False  # set by the node (kept in snapshots), not the book's default
        self.orders: list[Entry] = []  # open orders (and closed ones not dropped yet), by seq
        self.live = 0  # open orders in ``orders``
        self.funded = True  # at the last allocation every order had fillable == remaining
        self.next: Account | None = None  # the maker's account of another token (``BookBase``)

    def open_orders(self) -> Iterator[Entry]:
        for e in self.orders:
            if e.closed is None:
                yield e


SEQ_LIMIT: Final = 2**61  # above every order's arrival ``seq`` (snapshots check it): machine int


class Entry(Queued):
    """One order's fill state in the book. Read by ``sdex.matching``; changed only by the book.

    Amounts are in the order's maker token: ``remaining = maker_amount - filled - pending``;
    ``fillable = min(remaining, the maker's funds allocated to it)``, and 0 once closed.
    ``unit`` is the least maker amount that trades at the order's own price without
    rounding (``maker_amount / gcd(maker_amount, taker_amount)``): less than that is dust;
    ``tunit`` is what it costs (``taker_amount / gcd``), so ``n`` whole units cost exactly
    ``n * tunit``, no product of amounts needed. An order whose rest is less than that and
    not whole units is *all or nothing* (``aon``): ``unit`` is its rest, ``tunit`` what the
    contract asks for all of it (docs/ARCHITECTURE.md, "Rests that are not whole units").
    ``maker``, ``taker``, ``maker_amount``, ``taker_amount``, ``fee_amount`` and ``expiry``
    are the order's.
    """

    __slots__ = (
        "account",
        "aon",
        "book_side",
        "closed",
        "expiry",
        "fee_amount",
        "fillable",
        "filled",
        "floor",
        "hash",
        "indexed",
        "late",
        "level",
        "lot",
        "maker",
        "maker_amount",
        "order",
        "parked",
        "pending",
        "signed",
        "taker",
        "taker_amount",
        "tunit",
        "unit",
        "xbucket",
        "xpos",
    )

    def __init__(
        self,
        signed: SignedOrder,
        book_side: BookSide,
        seq: int,
        filled: int,
        account: Account,
        maker_amount: int,
        taker_amount: int,
        fee_amount: int,
        gcd: int,
        order: Order,
        order_hash: bytes,
    ) -> None:
        """``gcd``: of ``maker_amount`` and ``taker_amount``; ``order`` and ``order_hash``:
        ``signed.order`` and ``signed.hash`` (all passed in by the book, which has read them
        already: in the Python source each read of a ``SignedOrder`` is an attribute lookup)."""
        super().__init__(seq)  # its time priority, and its slot in a queue (``Queued``)
        self.signed = signed
        self.order: Order = order
        self.hash = order_hash  # the order's identity, read on every removal
        # the fields the walk reads as native ints and strs (a read of the ``Order``, a native
        # class too, compiled, costs a call and a conversion each time)
        self.maker_amount = maker_amount
        self.taker_amount = taker_amount
        self.fee_amount = fee_amount
        self.maker = account.maker  # its key is (maker, maker token)
        self.taker = order.taker
        self.expiry = order.expiry
        self.book_side = book_side
        self.filled = filled
        self.pending = 0
        self.fillable = 0
        self.unit = maker_amount // gcd
        self.tunit = taker_amount // gcd  # what one unit costs at the order's own price
        # the least it trades: ``unit``, or the fewest whole units that reach the book's
        # minimum for its maker token (``BookBase.minimums``, set by the book's ``_insert``)
        self.lot = self.unit
        self.floor = 0  # the least one match moves of it: its lot if its token has a minimum
        # all or nothing: what is left of it (``maker_amount - filled``) is not whole units
        # and less than its lot, so it trades only whole, at its own cost: ``unit`` is that
        # rest and ``tunit`` its cost ``ceil(unit * taker_amount / maker_amount)``, not
        # reduced (``BookCore._reterm``; its level is their reduced price)
        self.aon = False
        self.account = account
        self.level: Level | None = None  # the level it rests at (in its queue or parked)
        self.parked = False  # resting but out of the queue: it cannot trade now
        self.late = False  # parked: it expires by when a match could settle (``sdex.book.late``)
        self.closed: RemovalReason | None = None
        self.xbucket: list[Entry] | None = None  # the book's expiry index: its bucket there
        self.xpos = 0  # (None: not indexed) and its place in it
        self.indexed = False  # the book's record of its order (its index holds it by hash)

    @property
    def resting(self) -> bool:
        """Placed (GTC, open), as opposed to an order being matched or closed: at a level, or
        deferred (parked without a level while all it has is in flight)."""
        return self.level is not None or (self.parked and self.closed is None)

    @property
    def side(self) -> Side:
        return self.book_side.side

    @property
    def remaining(self) -> int:
        return self.maker_amount - self.filled - self.pending

    @property
    def offered(self) -> int:
        """What the book offers of it: ``fillable``, unless it is parked or closed."""
        return 0 if self.parked or self.closed is not None else self.fillable

    def __repr__(self) -> str:
        s = f"{self.side.value} 0x{self.hash.hex()[:8]} seq={self.seq} filled={self.filled}"
        return f"Entry({s} pending={self.pending} fillable={self.fillable})"


class Level(Queue[Entry]):
    """All orders at one exact price, oldest first. ``rank`` orders the levels of a side
    (``BookSide``): ``-price`` for asks, ``price`` for bids, as a float, so that the best
    level has the greatest rank.

    ``live`` and ``total`` are what the level offers now: how many entries are in its queue
    and the sum of their ``fillable``, kept as entries enter, fill, park and leave (the book
    calls ``add`` whenever the fillable of an entry in the queue moves), so that depth
    costs O(levels), not O(orders). Every change of ``total`` is noted in the side's log
    of changes (``BookSide.changes``, a ``ChangeLog``: ``logged`` is its last place there).
    ``total`` is kept in two machine ints (``Total``, its base: ``high * CHUNK + low``).
    Its queue, ``queue`` from ``head`` on with the dead slots of each block counted
    (``dead_in``), is its base ``Queue``'s; ``take`` and ``push`` keep the counts here (one
    call per change on the hot paths), ``compact``, ``recount`` and ``find`` are the queue's.

    ``aons`` counts the all-or-nothing entries (``Entry.aon``) in the queue and ``aon_least``
    is at most the least of their costs (``tunit``; exact when the walk last set it, lower
    once a cheaper one left): a walk that cannot pay that passes a level of nothing but such
    entries in O(1) instead of one by one (``sdex.matching.walk``)."""

    __slots__ = (
        "aon_least",
        "aons",
        "den",
        "listed",
        "num",
        "parked",
        "rank",
        "side",
    )

    def __init__(self, num: int, den: int, rank: float, side: BookSide) -> None:
        super().__init__()
        self.num = num
        self.den = den
        self.rank = rank
        self.side = side
        self.parked: dict[bytes, Entry] = {}  # resting here, out of the queue
        self.listed = False  # in its side's ``ranked`` (else empty, kept as a spare)
        self.aons = 0  # all-or-nothing entries in the queue
        self.aon_least = 0  # at most the least cost of those (0 while there are none)

    def add(self, amount: int) -> None:
        """The fillable of an entry in the queue moved by ``amount`` (or one entered or
        left with it): ``total`` follows, and the change is noted for the side's readers."""
        low = self.low + amount
        if 0 <= low < CHUNK:
            self.low = low
        else:
            self.carry(low)
        if self.logged < self.side.taken:  # (else noted since the last read already)
            self.side.moved(self)

    @property
    def price(self) -> Fraction:
        return Fraction(self.num, self.den)

    def push(self, entry: Entry) -> None:
        """Rest ``entry`` in the queue at its time priority (usually the tail)."""
        queue = self.queue
        if len(queue) - self.head > 2 * self.live + 16:
            self.compact()
            queue = self.queue
        entry.level = self
        entry.dead = False
        if queue and queue[-1].seq > entry.seq:
            insort(queue, entry, lo=self.head, key=by_seq)
            self.recount()
        else:
            n = len(queue)
            entry.slot = n
            if not n & BLOCK_MASK:
                self.dead_in.append(0)
            queue.append(entry)
        self.live += 1
        if entry.aon:
            self.count_aon(entry)
        self.add(entry.fillable)

    def count_aon(self, entry: Entry) -> None:
        """An all-or-nothing ``entry`` entered the queue: ``aons`` and ``aon_least`` follow."""
        cost = entry.tunit
        if not self.aons or cost < self.aon_least:
            self.aon_least = cost
        self.aons += 1

    def discard(self, entry: Entry) -> None:
        """Take ``entry`` out of the level in O(1) (amortised): mark it, skip it later."""
        entry.level = None
        if entry.parked:
            entry.parked = False
            del self.parked[entry.hash]
            return
        self.add(-entry.fillable)
        self.take(entry)

    def take(self, entry: Entry) -> None:
        """Mark ``entry`` (in the queue) dead, O(1) (amortised): ``live`` follows, the head
        skips it if it was first; ``total`` is the caller's (``discard``, ``park``, or
        ``OrderBook.fill``, which takes a fill and the entry's leaving in one change)."""
        entry.dead = True
        self.live -= 1
        if entry.aon:
            self.aons -= 1  # (``aon_least`` stays a lower bound; the walk makes it exact)
        dead_in = self.dead_in
        b = entry.slot >> BLOCK_BITS
        dead_in[b] = dead_in[b] + 1  # (not ``+=``: mypyc made that a generic in-place add)
        queue = self.queue  # the head skips the dead slots it now starts with
        head = self.head
        n = len(queue)
        while head < n and queue[head].dead:
            head += 1
        self.head = head

    def park(self, entry: Entry) -> None:
        """``entry`` (in the queue) cannot trade now: take it out of the queue, O(1)."""
        self.add(-entry.fillable)
        self.hold(entry)

    def hold(self, entry: Entry) -> None:
        """``park`` but for ``total`` (the caller's, as for ``take``)."""
        entry.parked = True
        self.parked[entry.hash] = entry
        self.take(entry)

    def park_new(self, entry: Entry) -> None:
        """Rest ``entry`` here parked, never having been in the queue."""
        entry.level = self
        entry.dead = True
        entry.parked = True
        self.parked[entry.hash] = entry

    def unpark(self, entry: Entry) -> None:
        """``entry`` can trade again: back into the queue at its time priority (a ``late`` one
        stays parked). Never called while ``sdex.matching`` walks this level (its ``refunded``)."""
        if not entry.late:
            self.requeue([entry])

    def requeue(self, entries: list[Entry]) -> None:
        """``unpark`` ``entries`` (parked here, none late) in one rebuild of the queue, O(level
        + k log k) (review60: one at a time, 5,000 late orders of a level took 0.4 s compiled)."""
        for entry in entries:
            del self.parked[entry.hash]
            entry.parked = False
        self.compact()  # before un-marking: drops the entries' own stale slots, if any
        for entry in entries:
            entry.dead = False
        self.queue += entries
        self.queue.sort(key=by_seq)  # (sorted runs: merged, O(level + k log k))
        self.recount()
        self.live += len(entries)
        for entry in entries:
            if entry.aon:
                self.count_aon(entry)
            self.add(entry.fillable)

    def entries(self) -> Iterator[Entry]:
        """Every entry resting here, parked ones included, oldest first."""
        if not self.parked:
            yield from self.active()
        else:
            yield from sorted([*self.active(), *self.parked.values()], key=by_seq)

    def __len__(self) -> int:
        return self.live + len(self.parked)


SPARES: Final = 64  # empty levels a side keeps beyond as many as it lists (``ladder.drop``)


class BookSide(ChangeLog[Level]):
    """One side of a pair: levels by exact price in ``ranked``, worst first and best last
    (cached as ``best``), so that the walk takes and drops levels at the end of a list.
    ``ranks`` holds the levels' ``rank`` floats, ascending, beside ``ranked`` (kept by
    ``sdex.book.ladder``: levels are found, made, placed and dropped there). ``opposite``
    is the pair's other side (set by ``PairBook``). Its ``ChangeLog`` lists the levels whose
    ``total`` moved, for readers that follow them (the node's book events: ``changes``); a
    price may come twice there (a level forgotten and made again). ``private``: a public
    side's ladders of orders restricted to one taker, by taker (``taker`` is theirs; None:
    they rest here, in one ladder with the public ones), apart so that only that taker's
    walks meet them (``sdex.book.ladder``)."""

    __slots__ = (
        "best",
        "by_rank",
        "is_ask",
        "levels",
        "opposite",
        "owner",
        "private",
        "ranked",
        "ranks",
        "side",
        "spares",
        "taker",
    )

    def __init__(self, side: Side) -> None:
        super().__init__()
        self.side = side
        self.is_ask = side is Side.ASK
        self.levels: dict[tuple[int, int], Level] = {}
        # the first level of each rank: found by a float (cheap to box, hash, compare); a
        # level whose rank another holds (prices too close for a float) is in ``levels`` only
        self.by_rank: dict[float, Level] = {}
        self.ranked: list[Level] = []  # worst price first, best last
        self.ranks: list[float] = []  # their ranks, ascending
        self.best: Level | None = None  # ranked[-1]: read on every incoming order
        self.opposite: BookSide = self
        self.owner: object = None  # the book it belongs to (set by ``BookCore.add_pair``)
        self.spares = 0  # empty levels kept in ``levels`` (not ``listed``), see ``drop``
        self.private: dict[str, BookSide] | None = {}
        self.taker = ""  # a private ladder's taker ("" for a public side)

    def moved(self, level: Level) -> None:
        """``level``'s total moved since a reader last read the log (``level.logged <
        taken``): log it. The log is kept within twice the levels kept (and the spares)."""
        self.note(level, 2 * len(self.levels) + SPARES)

    def __iter__(self) -> Iterator[Level]:
        """Levels, best price first."""
        return reversed(self.ranked)

    def __len__(self) -> int:
        return len(self.ranked)
