"""What the node remembers of fills beside the store's rows (``NodeState``'s, kept by the
chain's changes and the settler's results): its own settlements' fills known stored
(``DurableFills``: the watcher does not write them again) and the fills a reorg undid
(``UndoneFills``: mined again, they count in a closed order's record). Both bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from sdex.model import FillEvent
from sdex.storeundone import UNDONE_KEPT, UndoneKey, UndoneStore

OWN_DURABLE_KEPT = 8192
"""Fills ``DurableFills`` keeps (the oldest forgotten first: then written again, as before)."""


class DurableFills:
    """Fills of the node's own settlements whose write (the settler's, from the receipt)
    committed: the watcher, applying their block, writes only the others. Its write of
    these was an ``INSERT OR IGNORE`` of rows already there (settle48: ~10 us of the event
    loop and ~13 of the store writer a settled match). Only a fill equal in every field is
    passed over; everything is forgotten at a reorg or a reset (rows may have been removed)
    and the oldest past ``kept``: those are written again, as before."""

    def __init__(self, kept: int = OWN_DURABLE_KEPT) -> None:
        self._kept = kept
        self._fills: dict[tuple[object, ...], None] = {}
        self.epoch = 0
        """Reorgs and resets seen (``forget``): a settlement's fills read from its receipt
        before one may be of a block it undid (``NodeSettlement._fills_written``)."""
        self.passed_over = 0
        """Fills ``unwritten`` left out, since the start."""

    @staticmethod
    def _key(f: FillEvent) -> tuple[object, ...]:
        return (f.tx_hash.lower(), f.log_index, f.block_number, f.order_hash, f.maker,
                f.taker, f.maker_filled, f.taker_filled, f.fee_recipient, f.fee)  # fmt: skip

    def add(self, fills: Iterable[FillEvent]) -> None:
        """``fills`` are stored (their write committed)."""
        for f in fills:
            self._fills[self._key(f)] = None
        while len(self._fills) > self._kept:
            del self._fills[next(iter(self._fills))]

    def forget(self) -> None:
        """A reorg or a reset: rows may have been removed; all are written again."""
        self._fills.clear()
        self.epoch += 1

    def unwritten(self, fills: list[FillEvent]) -> list[FillEvent]:
        """Of ``fills`` (a block's), those not known stored."""
        known, key = self._fills, self._key
        if not known:
            return fills
        out = [f for f in fills if key(f) not in known]
        self.passed_over += len(fills) - len(out)
        return out


class UndoneFills:
    """Fills a reorg (or a reset) undid, by (order, transaction): if the same transaction
    is mined again in a later block, an order the node closed meanwhile (out of the book,
    not judged again then) takes that fill back into its record (``_remined``). Only those:
    a fill of a closed order that no reorg undid stays out of its record, and the audit
    still sees it as filled after the node closed it (one its maker soft-cancelled takes the
    chain's amount: ``NodeRejudge._closed_follow_chain``). Bounded (``UNDONE_KEPT``); once
    ``attach``-ed to the store, kept there too (``sdex.storeundone``): a restart between
    the reorg and the re-mining forgets none."""

    def __init__(self, kept: int = UNDONE_KEPT) -> None:
        self._kept = kept
        self._fills: dict[UndoneKey, int] = {}
        self._store: UndoneStore | None = None

    async def attach(self, store: UndoneStore) -> None:
        """Read back what the store kept (at a start); later changes are written there."""
        self._fills = await store.undone_fills(self._kept)
        self._store = store

    def add(self, fills: Iterable[FillEvent]) -> asyncio.Future[None] | None:
        """Remember ``fills``; their rows' write (attached; None if nothing to write)."""
        added: dict[UndoneKey, int] = {}
        for f in fills:
            key = (f.order_hash, f.tx_hash.lower())
            self._fills.pop(key, None)
            self._fills[key] = added[key] = f.maker_filled
        while len(self._fills) > self._kept:
            del self._fills[next(iter(self._fills))]
        if self._store is None or not added:
            return None
        return self._store.add_undone(added, self._kept)

    def mined_again(self, fills: Iterable[FillEvent]) -> dict[bytes, int]:
        """Of ``fills`` (a block's), those undone before: the maker amount mined again
        per order (kept here until ``forget``: a block applied again finds them again)."""
        back: dict[bytes, int] = {}
        for f in fills:
            if (f.order_hash, f.tx_hash.lower()) in self._fills:
                back[f.order_hash] = back.get(f.order_hash, 0) + f.maker_filled
        return back

    def forget(self, fills: Iterable[FillEvent]) -> asyncio.Future[None] | None:
        """``fills`` are applied: mined again, they are undone no more (their rows'
        delete, attached; None if none was remembered)."""
        gone: list[UndoneKey] = []
        for f in fills:
            key = (f.order_hash, f.tx_hash.lower())
            if self._fills.pop(key, None) is not None:
                gone.append(key)
        if self._store is None or not gone:
            return None
        return self._store.forget_undone(gone)

    def kept_of(self, orders: set[bytes]) -> dict[bytes, dict[str, int]]:
        """Of ``orders``, the undone fills kept: their maker amounts by transaction."""
        out: dict[bytes, dict[str, int]] = {}
        for (h, tx), n in self._fills.items():
            if h in orders:
                out.setdefault(h, {})[tx] = n
        return out

    def forget_orders(self, orders: set[bytes]) -> asyncio.Future[None] | None:
        """The undone fills of ``orders`` forgotten (their amounts taken in: ``_remined``)."""
        gone = [key for key in self._fills if key[0] in orders]
        for key in gone:
            del self._fills[key]
        if self._store is None or not gone:
            return None
        return self._store.forget_undone(gone)

    def __len__(self) -> int:
        return len(self._fills)
