"""The node's own settlement receipts, decoded once by the settler and kept for the watcher
until it applies their blocks (``Mirror.note_receipt``, ``Mirror.apply``).

Between a receipt and that block the node knows more than the mirror: it confirmed the
settlement's matches, so the orders filled and the makers' funds that paid for them are
newer in the book than in the mirror. ``OwnReceipts`` counts them as receipts come and go
(``orders``, ``payers``), so that asking whether one is ahead costs a look-up, whatever
the number of receipts kept.

A receipt stays ahead until the mirror's head reaches its height: applied then, or found
not on the chain (another block there: ``passed``), or dropped when the chain has stayed
below it (``above``, ``drop``: a devnet rewound, ``sdex.watch.own``). Past ``cap``
receipts the oldest is no longer kept decoded (the watcher reads its block's logs) but
still held ahead, as a ``Stub``; a peer's settlement the node applied a block early is
held so too (``note``)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Container, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from sdex.chain import FillEvent
from sdex.mirror.heights import Heights

log = logging.getLogger("sdex.mirror")

Account = tuple[str, str]
"""(owner, token), lower-case addresses."""

MAX_OWN_RECEIPTS = 1024
"""Decoded receipts of the node's own settlements kept for the watcher (oldest go first)."""
MAX_LATE = 4096
"""Blocks held for the check of their stored fills (``late``): past that the lowest goes,
unchecked (said in the log)."""
MAX_STUBS = 16 * MAX_OWN_RECEIPTS
"""Settlements held ahead without their decoded receipt (``Stub``): past that, the oldest
one's orders are judged again once the mirror's head reaches its block (``overflow``)."""
MAX_OVERFLOW = 4 * MAX_STUBS
"""Orders of stubs let go held for that (``overflow``): past that, the oldest are judged
again with the next block the mirror applies, whatever its height (``due``; past as many waiting
for that, the oldest is not judged again: said in the log). The payers of those stubs too
(``overflow_payers``): past that, the oldest is no longer ahead (its funds taken from the
mirror, as before the settlement, until its block re-reads them)."""
MAX_LET_GO_TXS = MAX_STUBS
"""Transactions of stubs let go kept with their block (``overflow_txs``), for a devnet rewound
below them (``sdex.watch.own``): past that, the oldest one's orders wait for its height."""

MAX_DATA_WORDS = 4
"""Words of a listed token's log data (one with fewer than two indexed addresses) read as
accounts to re-read: an old token's unindexed ``Transfer(from, to, value)`` names its
accounts in its first two (the watcher re-reads only the ones the node wants)."""

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class OwnReceipt:
    """A settlement receipt of this node, decoded once by the settler."""

    tx_hash: str
    block_hash: str
    block_number: int
    fills: tuple[FillEvent, ...]
    transfers: tuple[tuple[str, str, str, int], ...]
    """(token, from, to, value) of every listed token's ``Transfer``, in log order."""
    approvals: frozenset[Account]
    """Accounts an ``Approval`` to the Exchange set (their allowance is re-read)."""
    tx_root: str = ""
    """The ``transactionsRoot`` of a block holding this transaction alone ("": unknown)."""
    noted: float = field(default_factory=time.monotonic)
    """When the receipt came (``time.monotonic``)."""

    def payers(self) -> list[Account]:
        """The accounts its transfers took tokens from."""
        return [(payer, token) for token, payer, _, _ in self.transfers]

    def stub(self) -> Stub:
        return Stub(
            self.block_hash,
            self.block_number,
            tuple(f.order_hash for f in self.fills),
            tuple(self.payers()),
            self.noted,
        )


@dataclass(frozen=True, slots=True)
class Stub:
    """A settlement held ahead of the mirror without its decoded logs: the orders it filled
    and the accounts that paid, until the mirror's head reaches its block."""

    block_hash: str
    block_number: int
    orders: tuple[bytes, ...]
    payers: tuple[Account, ...]
    noted: float


class Held(Container[K]):
    """Keys held ahead of the mirror: in any of ``parts`` (counted by a receipt or a stub
    kept, or let go past ``MAX_STUBS`` and waiting for their block)."""

    __slots__ = ("_parts",)

    def __init__(self, *parts: Container[K]) -> None:
        self._parts = parts

    def __contains__(self, key: object) -> bool:
        # (asked once a wallet's order, ``NodeStatus._mirror_funds``: a loop, not ``any`` of
        # a generator, about half the time a call; perf79)
        for p in self._parts:  # noqa: SIM110
            if key in p:
                return True
        return False

    def __bool__(self) -> bool:
        return any(map(bool, self._parts))


class OwnReceipts(dict[str, OwnReceipt]):
    """Receipts by transaction hash, at most ``cap`` (the oldest become ``stubs``), with the
    orders they filled and the accounts that paid counted (``orders``, ``payers``: a key is
    in while a receipt or a stub kept names it). Changed through ``add``, ``note``,
    ``[k] = r``, ``del``, ``pop``, ``passed``, ``drop`` and ``clear`` only."""

    def __init__(self, cap: int = MAX_OWN_RECEIPTS, stub_cap: int = MAX_STUBS) -> None:
        super().__init__()
        self.cap = cap
        self.stub_cap = stub_cap
        self.stubs: dict[str, Stub] = {}
        """Settlements held ahead with no decoded receipt, by tx hash (oldest first)."""
        self.orders: Counter[bytes] = Counter()
        self.payers: Counter[Account] = Counter()
        self.paid: dict[Account, int] = {}
        self.got: dict[Account, int] = {}
        """What the kept receipts' (not the stubs') transfers took from each account and
        gave each one, summed (``sdex.node.funding``: no walk over the receipts; funds67)."""
        self.fills_kept: dict[bytes, tuple[int, int]] = {}
        """The kept receipts' fills of each order: how many, and their ``maker_filled``
        summed (``filled``)."""
        self.overflow: Heights[bytes, int] = Heights(_itself)
        """Orders of stubs let go past ``stub_cap``, with the highest block of those that
        named each: judged again once the mirror's head reaches it (``due``). Judged at a
        head below it, the order's fill is not in the mirror yet: the node reopened an order
        its own settlement filled, and the block filled it again (reorg63). Ahead till then
        (``held_orders``): judged before it by a block below it (the maker's cancel-up-to of
        lower salts), it was reopened the same way (left67)."""
        self.overflow_payers: Heights[Account, int] = Heights(_itself)
        """The payers of those stubs, with the highest block of those that named each: ahead
        (``held_payers``) till the mirror's head reaches it. A block below it that re-read
        their funds (a transfer to the maker) gave back, in the book, what the settlement had
        taken (left67)."""
        self.overflow_txs: Heights[str, tuple[int, float]] = Heights(_first)
        """The let-go stubs' transactions: their (highest) block and when each was noted. A
        devnet rewound below one with nothing mined since (``above``, ``drop``: sdex.watch.own)
        never reaches its height: its orders waited for it, filled in the node and
        fillable on the chain (left67); now they are held only up to the chain's head."""
        self.held_orders: Held[bytes] = Held(self.orders, self.overflow)
        """The orders ahead of the mirror: of a receipt or stub kept, or let go (``overflow``)."""
        self.held_payers: Held[Account] = Held(self.payers, self.overflow_payers)
        """The accounts ahead of the mirror: of a receipt or stub kept, or let go."""
        self._due: dict[bytes, None] = {}
        """Orders let go from ``overflow`` past ``MAX_OVERFLOW``: judged with the next apply,
        at most ``MAX_OVERFLOW`` (past that the oldest goes unjudged, counted in ``_undue``;
        settle69: unbounded, a watcher stalled while the settler went on kept them all)."""
        self._undue = 0
        self.late: set[int] = set()
        """Blocks the mirror has another of than a receipt or a notice noted after it got
        there, or none kept (past its reorg window): the fills stored at those heights are
        checked against the chain's (``sdex.watch.falsefills``), at most ``MAX_LATE``."""

    def add(self, r: OwnReceipt) -> None:
        self[r.tx_hash] = r
        while len(self) > self.cap:  # the oldest kept as a stub: still ahead, not decoded
            tx = next(iter(self))
            r = super().pop(tx)
            self._sum(r, -1)  # (its transfers no longer kept)
            self.note(tx, r.stub(), counted=True)

    def filled(self, order_hash: bytes) -> int | None:
        """What the kept receipts filled of an order, summed; None when a stub names it too,
        or a let-go one did (``overflow``): what those filled is not kept."""
        if order_hash in self.overflow:
            return None
        counted = self.fills_kept.get(order_hash, (0, 0))
        return counted[1] if counted[0] == self.orders.get(order_hash, 0) else None

    def add_late(self, number: int) -> None:
        self.late.add(number)
        if len(self.late) > MAX_LATE:  # (a flood of notices of old blocks: bounded)
            log.warning("block %d's stored fills left unchecked", lowest := min(self.late))
            self.late.discard(lowest)

    def note(self, tx_hash: str, s: Stub, counted: bool = False) -> None:
        """Hold ``s`` ahead (``counted``: its orders and payers are counted already)."""
        if not counted:
            if tx_hash in self or tx_hash in self.stubs:  # (held already)
                return
            self.orders.update(s.orders)
            self.payers.update(s.payers)
        self.stubs[tx_hash] = s
        while len(self.stubs) > self.stub_cap:
            oldest = next(iter(self.stubs))
            number = self.stubs[oldest].block_number
            payers = self.stubs[oldest].payers
            was, _ = self.overflow_txs.pop(oldest, (number, 0.0))  # (noted again: a reorg)
            self.overflow_txs[oldest] = (max(was, number), self.stubs[oldest].noted)
            if len(self.overflow_txs) > MAX_LET_GO_TXS:
                del self.overflow_txs[next(iter(self.overflow_txs))]
            for o in self._unstub(oldest):
                self.overflow[o] = max(number, self.overflow.pop(o, number))
            for a in payers:
                self.overflow_payers[a] = max(number, self.overflow_payers.pop(a, number))
            while len(self.overflow) > MAX_OVERFLOW:
                o = next(iter(self.overflow))
                del self.overflow[o]
                self._due[o] = None
                if len(self._due) > MAX_OVERFLOW:
                    del self._due[next(iter(self._due))]
                    self._undue += 1
            while len(self.overflow_payers) > MAX_OVERFLOW:
                del self.overflow_payers[next(iter(self.overflow_payers))]

    def due(self, number: int) -> set[bytes]:
        """The mirror's head is at ``number``: the orders of let-go stubs to judge again now
        (their blocks reached, or let go past ``MAX_OVERFLOW``), taken out. Its cost: the
        ones taken out (``Heights.reached``; settle69: it walked all held at each block)."""
        out = set(self._due)
        self._due.clear()
        if self._undue:
            log.warning("%d orders of let-go settlements not judged again", self._undue)
            self._undue = 0
        out.update(self.overflow.reached(number))
        self.overflow_payers.reached(number)  # (their blocks' transfers re-read their funds)
        self.overflow_txs.reached(number)
        return out

    def __setitem__(self, tx_hash: str, r: OwnReceipt) -> None:
        self.pop(tx_hash, None)  # (the same transaction noted again: counted once)
        self._unstub(tx_hash)
        super().__setitem__(tx_hash, r)
        self.orders.update(f.order_hash for f in r.fills)
        self.payers.update(r.payers())
        self._sum(r, 1)

    def __delitem__(self, tx_hash: str) -> None:
        self._uncount(super().pop(tx_hash))

    def pop(self, tx_hash: str, default: OwnReceipt | None = None) -> OwnReceipt | None:  # type: ignore[override]
        r = super().pop(tx_hash, None)
        if r is None:
            return default
        self._uncount(r)
        return r

    def clear(self) -> None:
        super().clear()
        self.stubs.clear()
        self.orders.clear()
        self.payers.clear()
        self.paid.clear()
        self.got.clear()
        self.fills_kept.clear()
        self.overflow.clear()
        self.overflow_payers.clear()
        self.overflow_txs.clear()
        self._due.clear()
        self._undue = 0
        self.late.clear()

    def passed(self, number: int, hash_at: Callable[[int], str | None]) -> set[bytes]:
        """The mirror's head is at ``number``: every receipt and stub of a block up to it
        goes. The orders of those whose block is not the mirror's (``hash_at``: its hash of
        a kept block; None: not kept, so not known to be theirs), and of a receipt not
        applied by then (its block is not on this chain), to be judged again."""
        gone: set[bytes] = set()
        for tx in [tx for tx, r in self.items() if r.block_number <= number]:
            r = super().pop(tx)
            self._uncount(r)
            gone.update(f.order_hash for f in r.fills)
        for tx in [tx for tx, s in self.stubs.items() if s.block_number <= number]:
            s = self.stubs[tx]
            orders = self._unstub(tx)
            if hash_at(s.block_number) != s.block_hash:  # (of its block: read from its logs)
                gone.update(orders)
        return gone

    def above(self, number: int) -> dict[str, float]:
        """Receipts and stubs (kept or let go) of blocks above ``number``: when each was
        noted, by tx hash."""
        out = {tx: r.noted for tx, r in self.items() if r.block_number > number}
        out.update((tx, s.noted) for tx, s in self.stubs.items() if s.block_number > number)
        out.update((tx, noted) for tx, (n, noted) in self.overflow_txs.items() if n > number)
        return out

    def drop(self, txs: Iterable[str], head: int) -> set[bytes]:
        """Let these go (their blocks are not on the chain, whose head is ``head``): the
        orders they filled. Of a let-go stub, which orders and payers were its is not kept:
        every let-go one above ``head`` is held only until the mirror reaches ``head``
        (``due``), as one of its blocks up to there may still be the chain's."""
        gone: set[bytes] = set()
        let_go = False
        for tx in txs:
            r = self.pop(tx)
            if r is not None:
                gone.update(f.order_hash for f in r.fills)
            gone.update(self._unstub(tx))
            let_go |= self.overflow_txs.pop(tx, None) is not None
        if let_go:
            self.overflow.lower_to(head, min)
            self.overflow_payers.lower_to(head, min)
        return gone

    def _unstub(self, tx_hash: str) -> tuple[bytes, ...]:
        s = self.stubs.pop(tx_hash, None)
        if s is None:
            return ()
        _uncount(self.orders, s.orders)
        _uncount(self.payers, s.payers)
        return s.orders

    def _uncount(self, r: OwnReceipt) -> None:
        _uncount(self.orders, [f.order_hash for f in r.fills])
        _uncount(self.payers, r.payers())
        self._sum(r, -1)

    def _sum(self, r: OwnReceipt, sign: int) -> None:
        kept = self.fills_kept
        for f in r.fills:
            n, total = kept.get(f.order_hash, (0, 0))
            n, total = n + sign, total + sign * f.maker_filled
            if n:
                kept[f.order_hash] = (n, total)
            else:
                kept.pop(f.order_hash, None)
        paid, got = self.paid, self.got
        if sign > 0:
            for token, payer, to, value in r.transfers:
                paid[payer, token] = paid.get((payer, token), 0) + value
                got[to, token] = got.get((to, token), 0) + value
        else:
            for token, payer, to, value in r.transfers:
                add_to(paid, (payer, token), -value)
                add_to(got, (to, token), -value)


def _itself(n: int) -> int:
    return n


def _first(v: tuple[int, float]) -> int:
    return v[0]


def _uncount(counts: Counter[K], keys: Iterable[K]) -> None:
    """Take one of each key off ``counts``, leaving no key at 0 (``in`` means counted)."""
    for k in keys:
        n = counts[k] - 1
        if n > 0:
            counts[k] = n
        else:
            counts.pop(k, None)


def add_to(totals: dict[K, int], key: K, amount: int) -> None:
    """Add ``amount`` to a key's total, leaving no key at 0 (bounded by those counted)."""
    n = totals.get(key, 0) + amount
    if n:
        totals[key] = n
    else:
        totals.pop(key, None)


def named_in_data(data: bytes, token: str) -> set[Account]:
    """The accounts of ``token`` that the first ``MAX_DATA_WORDS`` words of a log's data
    may name: each address-shaped one (12 zero bytes, then a non-zero address; an amount
    below 2**160 looks the same, and is only a read the watcher skips unless wanted)."""
    out: set[Account] = set()
    for i in range(0, min(len(data), 32 * MAX_DATA_WORDS) - 31, 32):
        word = data[i : i + 32]
        if word[:12] == bytes(12) and any(word[12:]):
            out.add(("0x" + word[12:].hex(), token))
    return out
