"""Settlements a previous run left pooled, adopted at the start once the orders are loaded
(``_adopt``: held in flight in the book, ``sdex.settlement.adopt``), or given up; the one-shot
orders the restart closed whose adopted match the settler confirms on one side
(``_book_sides``). ``sdex.node.settle`` builds on it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from collections.abc import Set as AbstractSet

from sdex.book.errors import BookError
from sdex.chain.rpc import quantity
from sdex.matching.match import Match, MatchResult
from sdex.model import MatchOutcome, OrderStatus
from sdex.node.diaghold import NodeHolds
from sdex.node.rejudge import restart_reasons
from sdex.order import SignedOrder
from sdex.settlement.adopt import adopted_matches, pooled_tx
from sdex.settlement.rowreceipt import believed, landed, record_landed, start_bound
from sdex.storesettle import StoredSettlement

log = logging.getLogger("sdex.node")


class NodeAdoption(NodeHolds):
    """A start's adoption of the pooled settlements a previous run left (``_adopt``)."""

    _restart_takers: AbstractSet[bytes] = frozenset()
    """One-shot orders the restart closed whose pooled settlement it adopted (``_adopt``)."""
    _unread: Mapping[str, int] = {}
    """Pooled settlements adopted in a doubt, their receipt unread, and the block the start
    loaded their orders at (``_adopt``; ``counted_at_start``)."""
    _unmarked: tuple[str, ...] = ()
    """Pooled settlements given up unread in a doubt, their rows dropped till marked as their
    receipts say (``_not_adopted``, ``mark_unread``)."""

    _unadopted: bool = False
    """The start's pooled rows (``reconcile``'s) not all adopted, marked or given up yet:
    nothing is matched till they are (``_uncross``; ``load`` sets it, ``_adopt_rows`` ends it)."""

    def _uncross(self) -> None:
        """The book uncrossed, unless the start's pooled rows are not adopted yet. settle88:
        a block mined between a kill and the restart, the row not in it, was applied by the
        start's catch-up (``Watcher.catch_up``), whose uncross matched the row's two orders
        (both reloaded resting, its fill not mined) again before ``_adopt``: the row found
        them taken ("match amount rounds to zero"), was given up with its bytes pooled, and
        the new match was signed behind it (at its nonce: underpriced, then cancelled by a
        transfer; at the next, a revert once the pooled one lands: paid)."""
        if not self._unadopted:
            super()._uncross()

    async def _adopt(self, pooled: list[StoredSettlement], at: int | None = None) -> None:
        """(At the start, the orders loaded) Settlements a previous run left in a pool the
        chain is not told to mine (``sdex.settlement.reconcile``): each adopted into the
        lane, its matches held in flight (``sdex.settlement.adopt``), so its orders are not
        matched again behind it; one that cannot be is given up as before (if it lands,
        the watcher applies it). Each one's receipt is read first, after the head (nothing
        awaited after it): one that landed at or below that head may be in the filled
        amounts the orders were loaded with, so it is not adopted, its row marked as its
        receipt says (review66: held again on top of its own fill, then applied again
        from its receipt, both orders showed filled in full while the chain filled half);
        one that landed above it is in none of them, and is adopted (its receipt applied
        once by the settler). While the chain's identity is in doubt none is read (another
        chain's "reverted" failed a sound one, its orders settled again: doubt80): each is
        adopted, the mirror's head kept as the block its orders were loaded at, and judged
        so once its receipt is taken (``counted_at_start``: not applied twice), the head not
        asked (doubt81: maybe another chain's); so is one whose receipt read failed, and each
        when the head read failed and the mirror has one (review81, doubt81: given up, its
        orders matched again, its bytes pooled: paid reverts), one with replaced rows: review81b.
        ``at``: the block the orders were loaded at, read at it (a start's hold, doubt83: not
        asked); a doubt with no head of ours holds the start till it ends (``_start_holds``).
        A row's step the store or the chain refuses (its mark, the read of an order off the
        book: ``_off_book``) is tried again till it is done (``_held_step``), the start and
        the rows' orders held meanwhile (restart97: it raised out of the start, the node down)."""
        if pooled:
            rows, bound = list(pooled), await self._adopt_bound(at)
            await self._held_step("a pooled row's adoption", lambda: self._adopt_rows(rows, *bound))

    async def _held_step(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        """(``sdex.node.reload``'s) ``step`` run till the store or the chain does not refuse it."""
        raise NotImplementedError

    async def _adopt_bound(self, at: int | None) -> tuple[int | None, bool, float]:
        """(``_adopt``) The block the orders were loaded at (``at``, else the chain's head
        now; in a doubt, the mirror's), whether every row is adopted unread (the head not
        read: as loaded at the mirror's), and when the rows' confirming reads end
        (``rowreceipt.start_bound``: one bound for the whole adoption, its tries again
        included; restart98: each try of ``_held_step`` began a fresh one). Never raises: a
        read that fails is said so."""
        doubt, saved = self.settler.async_sends.doubted, self.mirror.head
        if at is not None:
            return at, False, start_bound()
        if doubt() and saved is not None:  # (the mirror's: ours; nothing asked in doubt)
            return saved.number, False, start_bound()
        try:
            head = quantity(await self.settler.receipts.call("eth_blockNumber"))
            return head, False, start_bound()
        except Exception as e:  # (none saved: no row is adopted, each may be counted)
            log.warning("the chain's head not read: pooled settlements %s: %s",
                        "not adopted" if saved is None else "adopted unread", e)  # fmt: skip
            # (review81: as loaded at the mirror's head)
            return None if saved is None else saved.number, saved is not None, start_bound()

    async def _adopt_rows(
        self, rows: list[StoredSettlement], loaded: int | None, unread_all: bool, until: float
    ) -> None:
        """(``_adopt``) ``rows`` adopted, marked or given up, each taken off the list once
        done: one whose mark the store refused (``record_landed``'s ``StoreError``, raised)
        is left first on it, pending in the store, nothing of it changed here but its block
        in ``ours`` (held86: a held start tries it again, ``_held_step``; adopted part-way
        and called again, the rows done before were adopted twice). ``until``: when the
        rows' confirming reads end, every try's (``_adopt_bound``; restart97, restart98)."""
        while rows:
            await self._adopt_row(rows[0], loaded, unread_all, until)
            rows.pop(0)
        self._unadopted = False  # (their orders held: the book may be matched)

    async def _adopt_row(
        self, row: StoredSettlement, loaded: int | None, unread_all: bool, until: float
    ) -> None:
        """(``_adopt_rows``) One row adopted into the lane, marked as its receipt says or
        given up; raises only where nothing of it is done yet (its mark refused). ``until``:
        when the rows' confirming reads end (``rowreceipt.start_bound``)."""
        doubt = self.settler.async_sends.doubted
        if loaded is None:  # (unread: it may have landed; not held twice)
            self._not_adopted(row, ValueError("the chain's head not read"), bool(doubt()))
            return
        earlier = self.settler.replaced_rows.get(row.tx_hash, ())  # (any may land)
        unread, got = bool(doubt()) or unread_all or bool(earlier), None
        try:
            got = None if unread else await landed(self.settler, row.tx_hash)
        except Exception as e:  # (review81: given up, its orders were matched again)
            log.warning("pending settlement %s: receipt not read (%s): adopted unread",
                        row.tx_hash, e)  # fmt: skip
            unread = True
        if got is not None and not await believed(self.settler, got, row.pairs, until=until):
            unread = True  # (settle96: its wait confirms it; one read was believed)
        if unread or doubt():  # (doubt80: another chain's answer, maybe; judged later)
            got, head = None, self.mirror.head
            at = loaded if head is None else head.number  # (the mirror's: ours)
            self._unread = {**self._unread, **{t.tx_hash: at for t in (*earlier, row)}}
        if got is not None and got.block_number <= loaded:
            log.info("pending settlement %s landed at the start: not adopted", row.tx_hash)
            await record_landed(self.settler, row.tx_hash, got)  # (refused: raised, as it was)
            return
        try:
            signed = pooled_tx(row)
            matches = adopted_matches(signed, row.pairs, self.book, self.domain, self._off_book)
        except (ValueError, BookError) as e:
            self._not_adopted(row, e, unread=row.tx_hash in self._unread)
            return
        sides = [h for m in matches for h in (m.resting.hash, m.incoming.hash)]
        if closed := {h for h in sides if h not in self.book}:
            # settle65: a one-shot order closed at the restart, out of the book (review96a:
            # or soft-cancelled, either side): its fill counted when the block comes (the
            # watcher's way for a given-up one's: ``_remined``, ``_closed_follow_chain``, up
            # to the chain's filled amount), its other side confirmed by the settler alone
            # (``_book_sides``)
            self._restart_takers = self._restart_takers | closed
            earlier = self.settler.replaced_rows.get(signed.tx_hash, ())  # (any may land)
            self.settler.given_up.update(t.tx_hash.lower() for t in (*earlier, signed))
        # (its orders moved: stored and published as at a match; the outcome unread)
        held = MatchResult(matches[0].incoming, MatchOutcome.RESTED, tuple(matches))
        self.registry.matched(held)
        self.settler.adopt(signed, matches)

    def _closed_at_restart(self, order_hash: bytes) -> tuple[SignedOrder, int] | None:
        """A one-shot order the restart closed (it never rests: ``restart_reason``), its
        signed order and the filled amount it was loaded with; None for any other."""
        rec = self.records.get(order_hash)
        if rec is None or rec.status is not OrderStatus.REMOVED:
            return None
        return (rec.signed, rec.filled) if rec.reason in restart_reasons(rec.tif) else None

    def _off_book(self, order_hash: bytes) -> tuple[SignedOrder, int] | None:
        """(``adopted_matches``' ``closed``) A pooled row's order the book does not hold that
        the row is adopted with all the same, its signed order and filled amount: a one-shot
        order the restart closed (``_closed_at_restart``), or one its maker soft-cancelled
        (its cancel taken: the row's wait sends a transfer at its nonce, never its bytes
        again, settle96's ``unsendables``; review96a: given up, the row's other order was
        matched again behind its pooled bytes). None for any other."""
        if (got := self._closed_at_restart(order_hash)) is not None:
            return got
        rec = self.records.get(order_hash)
        if rec is None and (s := self.registry.stored(order_hash)) is not None:
            if s.cancel_signature is None:  # (evicted: back in memory, as a cancel loads it)
                return None
            rec = self.registry.load_stored(s)
        if rec is None or rec.status.is_open or rec.cancel_signature is None:
            return None
        return rec.signed, rec.filled

    def _book_sides(self, m: Match) -> tuple[SignedOrder, ...]:
        """The orders of ``m`` the book holds: both, but for an adopted match with an order
        the restart closed or its maker soft-cancelled (``_off_book``), the other alone."""
        off = self._restart_takers
        if not off or (m.resting.hash not in off and m.incoming.hash not in off):
            return (m.resting, m.incoming)
        return tuple(
            so for so in (m.resting, m.incoming) if so.hash not in off or so.hash in self.book
        )

    def _not_adopted(self, row: StoredSettlement, why: Exception, unread: bool = False) -> None:
        """``row`` given up as before adoption (if it lands, the watcher applies it), and the
        rows signed before it at its nonce (doubt81): dropped at once, never sent again
        (review81: a stop in a doubt left them pending, the next start sent them, reverted,
        paid); ``unread`` (in a doubt): marked as their receipts say once the chain is
        proven (``mark_unread``)."""
        log.warning("pending settlement %s not adopted (given up): %s", row.tx_hash, why)
        s = self.settler
        s.unsent_at.pop(row.tx_hash, None)
        for tx_hash in (*(t.tx_hash for t in s.replaced_rows.pop(row.tx_hash, ())), row.tx_hash):
            self.store.set_settlement_status(tx_hash, "dropped", urgent=True)
            if unread:
                self._unmarked = (*self._unmarked, tx_hash)
            s.give_up(tx_hash)


def named_orders(pooled: list[StoredSettlement]) -> frozenset[bytes]:
    """The orders the rows ``pooled`` name (their pairs' hashes)."""
    return frozenset(
        bytes.fromhex(h.removeprefix("0x")) for r in pooled for p in r.pairs for h in p
    )
