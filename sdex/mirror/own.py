"""The node's own settlement receipts, decoded once by the settler and kept for the watcher
until it applies their blocks (``Mirror.note_receipt``, ``Mirror.apply``).

Between a receipt and that block the node knows more than the mirror: it confirmed the
settlement's matches, so the orders filled and the makers' funds that paid for them are
newer in the book than in the mirror. ``OwnReceipts`` counts them as receipts come and go
(``orders``, ``payers``), so that asking whether one is ahead costs a look-up, whatever
the number of receipts kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sdex.chain import FillEvent

Account = tuple[str, str]
"""(owner, token), lower-case addresses."""

MAX_OWN_RECEIPTS = 1024
"""Decoded receipts of the node's own settlements kept for the watcher (oldest go first)."""

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

    def payers(self) -> list[Account]:
        """The accounts its transfers took tokens from."""
        return [(payer, token) for token, payer, _, _ in self.transfers]


class OwnReceipts(dict[str, OwnReceipt]):
    """Receipts by transaction hash, at most ``cap`` (the oldest go first), with the orders
    they filled and the accounts that paid counted (``orders``, ``payers``: a key is in
    while a receipt kept names it). Changed through ``add``, ``[k] = r``, ``del``, ``pop``
    and ``clear`` only."""

    def __init__(self, cap: int = MAX_OWN_RECEIPTS) -> None:
        super().__init__()
        self.cap = cap
        self.orders: Counter[bytes] = Counter()
        self.payers: Counter[Account] = Counter()

    def add(self, r: OwnReceipt) -> None:
        self[r.tx_hash] = r
        while len(self) > self.cap:
            del self[next(iter(self))]

    def __setitem__(self, tx_hash: str, r: OwnReceipt) -> None:
        self.pop(tx_hash, None)  # (the same transaction noted again: counted once)
        super().__setitem__(tx_hash, r)
        self.orders.update(f.order_hash for f in r.fills)
        self.payers.update(r.payers())

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
        self.orders.clear()
        self.payers.clear()

    def _uncount(self, r: OwnReceipt) -> None:
        _uncount(self.orders, [f.order_hash for f in r.fills])
        _uncount(self.payers, r.payers())


def _uncount(counts: Counter[K], keys: Iterable[K]) -> None:
    """Take one of each key off ``counts``, leaving no key at 0 (``in`` means counted)."""
    for k in keys:
        n = counts[k] - 1
        if n > 0:
            counts[k] = n
        else:
            counts.pop(k, None)
