"""Chain state applied to the book and the records: the watcher's block changes (fills
stored and published, orders and funds judged again from the mirror, a reorg's reversals). The
reload of the stored open orders at start: ``sdex.node.reload``. One order's verdict applied:
``sdex.node.verdicts``; closed orders judged again (reorg, reset, cancel-up-to):
``sdex.node.rejudge``."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from functools import partial
from types import MappingProxyType
from typing import TypeVar

import aiohttp

from sdex.chain import FillEvent
from sdex.chain.rpc import quantity
from sdex.errors import ChainError
from sdex.futures import retrieved
from sdex.node import readbudget
from sdex.node.pastwords import undone_let_go
from sdex.node.rejudge import NodeRejudge
from sdex.node.views import _stored_fills
from sdex.order import Order, bitmap_nonce
from sdex.store import StoredFill, StoreError
from sdex.watch import BlockChanges

T = TypeVar("T")

log = logging.getLogger("sdex.node")
RECHECK_IDLE = 5.0
"""Seconds with no new head after which a failed recheck read is tried again
(``NodeChainState.recheck_idle``; more while it keeps failing: ``ReadBackoff``)."""
UNREAD_SAID = 1024
"""(order, block) pairs remembered as logged unread by ``_paid_sources`` (``_unread_once``)."""


class NodeChainState(NodeRejudge):
    """What the chain says about orders, applied to the book and the records."""

    reloaded_from_chain = 0
    """Stored open orders the last start read from the chain (``getOrderStates``): those the
    saved mirror could not judge (a maker's funds it does not hold, or no saved head)."""

    async def _on_block(self, changes: BlockChanges) -> None:
        """Blocks the watcher applied to the mirror: fills to store and publish, orders and
        funds to re-read from the mirror (no chain call), and after a reorg or a reset the
        reversals: undone fills deleted and announced, orders they had closed reopened. The
        rows it writes (closes, status moves) join ``changes.stored``: the watcher saves its
        head only once they are committed (one refused: written again with the next try)."""
        changes.stored.clear()  # (an earlier try's writes: this try queues them again)
        w = self.watcher  # (the last try's rows, if still queued: /health says a stall)
        self._applying(True)  # (no recheck part judged before the block's end: recheck81)
        try:
            await self.registry.track_writes(w.store_wait, w.stalled)
        except BaseException:
            self._applying(False)
            raise
        try:
            await self._apply_block(changes)
        finally:
            self._applying(False)
            if (rows := self.registry.tracked_writes()) is not None:
                changes.stored.append(rows)
            changes.stored.extend(self._recheck.writes())  # (a kill past the head: kept)
        if changes.reset:  # (walked: not again at a start, once the walk's rows are stored)
            cleared = asyncio.ensure_future(self._rejudged(rows))
            cleared.add_done_callback(retrieved)  # (the watcher's to see, with ``rows``)
            changes.stored.append(cleared)

    async def _rejudged(self, rows: asyncio.Task[None] | None) -> None:
        """A reset's re-judging done: its mark cleared once the rows it wrote are committed
        (one refused raises: the mark stays, the watcher applies the changes again; review73:
        cleared behind a refused row, a kill left that order as the old chain had it)."""
        if rows is not None:
            await asyncio.shield(rows)
        await self.store.rejudged()

    async def _apply_block(self, changes: BlockChanges) -> None:
        if changes.reset or changes.reorg_depth:  # the chain's time now, not the undone blocks'
            self.latest_timestamp = changes.timestamp
            w = self.watcher
            w.latest_timestamp = min(w.latest_timestamp, changes.timestamp)
            self.saw_block_time(changes.head, changes.timestamp, reset=True)
            w.lead.saw(changes.head, changes.timestamp, reset=True)  # (the undone blocks' too)
            self.refusals.forget_chain()  # peers' copies refused filled may be open again
            if changes.reset:
                self.unproven.reset(changes.head)  # (their makers read at its next block)
        elif changes.head >= self.watcher.chain_head:  # the tip: the chain's clock as it is
            self.latest_timestamp = changes.timestamp  # (left48: a lied stamp no longer pins it)
            self.saw_block_time(changes.head, changes.timestamp)
        else:
            self.latest_timestamp = max(self.latest_timestamp, changes.timestamp)
            self.saw_block_time(changes.head, changes.timestamp)
        if changes.reset:
            self.sender.forget_nonce()  # the old chain's nonces mean nothing here
            self.sender.recounting()  # (``signed_past``: the new chain's count, below)
            self.settler.broadcaster.reprobe()  # (maybe another engine: sync tried again)
        if changes.reorg_depth or changes.own_gone:
            self.sender.forget_nonce()  # a settlement in an undone block freed its nonce
        if changes.reset or changes.fork >= 0:
            low = -1 if changes.reset else changes.fork
            # chain words read of blocks a reset or reorg undid (orders', funds'): the mirror's
            # word stands; what was judged by the undone blocks' word, judged again
            self._read_past = undone_let_go(self._read_past, low)
            self._funds_past = undone_let_go(self._funds_past, low)
            self._rechecks_undone(low)
        for f in changes.reverted:
            self.events.publish({"type": "fill", "event": "reverted", **f.to_json()})
        if (kept := self._undone.add(changes.reverted)) is not None:
            changes.stored.append(kept)  # (a restart before they are mined again: read back)
        remined = dict(self._undone.mined_again(changes.fills))  # (undone by an earlier reorg)
        for fill in changes.fills:  # (chaos52: ours, given up at a restart, landed after all)
            if fill.tx_hash.lower() in self.settler.given_up:
                remined[fill.order_hash] = remined.get(fill.order_hash, 0) + fill.maker_filled
        self._back = remined  # (for ``_rejudge``, this block's)
        if changes.reset or changes.reorg_depth or changes.reverted or changes.own_gone:
            self._own_durable.forget()  # (rows removed: the settler's too)
        # (the own settlements' fills the settler stored already: not written again)
        if unwritten := self._own_durable.unwritten(changes.fills):
            # queued, not awaited: published once durable (_fills_stored)
            fills = list(_stored_fills(unwritten, ours=False, ours_txs=self.settler.ours))
            stored = self.store.add_fills_async(fills)
            stored.add_done_callback(partial(self._fills_stored, block=changes.head))
            self.track_fills(stored)  # (the orders they close: a listing waits for them)
            changes.stored.append(stored)  # the watcher saves its head once they are durable
        # The orders of the settler's own fills too: it confirmed them from their receipt,
        # but a verdict from an older block of the mirror may have been applied since (a
        # maker's cancel-up-to re-judges its orders): now the mirror has these fills.
        affected: set[bytes] = {f.order_hash for f in changes.fills} | changes.cancelled
        fee = (self.config.fee_recipient, self.config.fee_bps)  # (peers80: only fills paid)
        least = self.config.limits.minimum  # (peers81: a fill of the least order at least)
        undone = self._paid_sources(changes.reverted, fee, least)
        readbudget.uncredit_trades(self.gossip, undone)  # (peers79: those credited)
        paid = self._paid_sources(changes.fills, fee, least)  # (held or stored: peers93)
        readbudget.credit_trades(self.gossip, paid)  # (sybil78)
        affected |= self._bitmap_kin(changes.fills)
        rejudge = set(changes.rejudge)
        # A closed order cancelled by hash: the chain says CANCELLED first, also of a filled
        # or expired one (as a cancel-up-to re-closes it: reorg30 found the two differ)
        rejudge |= {h for h in changes.cancelled if h not in self.book}
        if changes.reverted or changes.reorg_depth:
            rejudge |= {f.order_hash for f in changes.fills}
            rejudge |= {f.order_hash for f in changes.reverted}
        # A bitmap order closed by its maker's same-nonce fill that a reorg undid: no event
        # of its own says so (mirror31): the undone fills' makers' bitmap orders, again
        kin_makers = self._bitmap_undone(changes.reverted, rejudge)
        if changes.reorg_depth:  # expired by an undone block's time: the chain says again
            rejudge |= self.registry.unexpired(self.chain_time())
        makers = changes.makers_cancelled_up_to
        cancels = {h for h in changes.cancelled if h in self.records}
        if makers:
            for rec in self.records.values():
                if rec.signed.order.maker in makers:
                    rejudge.add(rec.signed.hash)
                    cancels.add(rec.signed.hash)
        # what these blocks' cancels close is judged again at a start till the head is saved
        # past them (chaos77: a kill before, a reorg undoing the block while down: kept closed)
        self._recheck.release(self.watcher.saved)
        self._recheck.hold(cancels, changes.head)
        if changes.reset:
            rejudge |= set(self.records)
        for h in rejudge:  # a closed order evicted from memory comes back from the store
            self._load_or_later(h)  # (refused: judged by a recheck once it reads, store96)
        self.registry.pin(rejudge)  # and stays there across the awaits below
        try:
            # Funds: the watcher re-read every touched account the book or the mirror holds.
            # Set before any await: a settlement of a later block confirmed meanwhile takes its
            # fill off these funds, where funds set after it would give the fill back.
            self._accounts_from_mirror(changes.funds)
            self._funds_taken_at = changes.head
            self.mirror.undone_to = None  # (these changes' undos are in them: re-read, funds98)
            verify = await self._contract_sigs_moved(changes.head)
            targets = [
                self.records[h].signed
                for h in affected | rejudge | verify
                if h in self.records and (h in self.book or h in rejudge)
            ]
            await self._judge_from_mirror(targets, reopen=rejudge, verify=verify)
            if changes.reset or makers:
                await self._rejudge_stored(
                    None if changes.reset else sorted(makers), changes.walked
                )
            if kin_makers and not changes.reset:  # (evicted ones: from the store)
                kin_makers -= {m.lower() for m in makers}  # (walked above: all of theirs)
                await self._rejudge_stored(sorted(kin_makers), changes.walked, bitmap=True)
            read = await self._read_rechecks()  # (those the mirror cannot judge)
            if taken := self._remined({h: n for h, n in remined.items() if h not in rejudge}):
                changes.stored.append(taken)  # (undone rows of amounts put off, taken in)
            self._closed_follow_chain({f.order_hash for f in changes.fills} - rejudge)
            put_off = self._remined_later or {}  # (kept: a start takes them in, review96e)
            applied = [f for f in changes.fills if f.order_hash not in put_off]
            if (forgotten := self._undone.forget(applied)) is not None:
                changes.stored.append(forgotten)
            self._close_expired()
            self._persist_open(read)
            self._uncross()
            if changes.reset:
                self.sender.recounted(await self._operator_count("after a reset"))
        finally:
            self._back = MappingProxyType({})
            self.registry.unpin(rejudge)

    async def _operator_count(self, when: str, known: int | None = None) -> int | None:
        """The operator's transaction count in the chain's pending block (None: not read,
        the chain unreachable, or unproven; logged). One past ``known`` (what the node
        signed, as far as it knows; None: nothing known, a reset's new chain) is believed
        only once a second read, a request of its own, says the same (doubt78, count77's
        rule: one answer ``LIE`` too high at a start stood as what the node had signed, so
        the lane believed a lied count up to it and every soft cancel named it)."""
        read: list[int] = []
        try:
            while len(read) < 2:
                pending = await self.settler.receipts.call(
                    "eth_getTransactionCount", self.sender.address, "pending"
                )
                read.append(quantity(pending))
                if known is not None and read[0] <= known:
                    break
        except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
            log.warning("the operator's nonce not read %s: %s", when, e)
            return None
        if read[0] != read[-1]:
            log.warning("the operator's nonce not read %s: the chain said %s", when, read)
            return None
        return read[0]

    def _close_expired(self) -> bool:
        """Close the resting orders the chain's clock (``chain_time``) has expired: whether any.
        At each applied block, and between blocks (``expire_idle``)."""
        closed = self.book.expire(self.chain_time())
        for h, reason in closed:
            self._book_closed(h, reason)
        return bool(closed)

    def expire_idle(self) -> None:
        """Close the orders expired since the last block, and store and publish it (user60: on
        an idle chain, Hardhat's automine, an expired order stayed ``open`` in the book, the
        listings and the page until a block or a crossing order came, and a buy that crossed
        it read "no match" with nothing said of it)."""
        if self.book.next_expiry_at <= self.chain_time() and self._close_expired():
            self._persist_open()

    _idle_head: object = None
    _idle_since = 0.0
    _idle_read: asyncio.Task[None] | None = None

    def recheck_idle(self) -> None:
        """A recheck read that failed (``ReadBackoff.failures``) tried again once the mirror's
        head has not moved for ``RECHECK_IDLE`` seconds, a chance as a block's (backed off
        alike), each ``RECHECK_IDLE`` at most. store98: on an idle chain (Hardhat's
        automine) the orders waiting for that word (a start's read failed: ``filled`` as a
        kill left them, the chain's 0) stayed due for good, as no block or settlement came
        to try the read again (the drain, ``_drain_rechecks``, reads nothing). Not in a doubt
        of the chain's identity (``ChainDoubt.held``): the head stands still then too, and
        "latest" may be another chain's (review100c: its word judged, as doubt82's reload)."""
        head, now = self.mirror.head, time.monotonic()
        if head is not self._idle_head or self.mirror.doubt.held:
            self._idle_head, self._idle_since = head, now
            return
        backoff = self._recheck.backoff  # (failed, or not tried in a doubt: doubt100)
        if not (backoff.failures or backoff.owed) or now - self._idle_since < RECHECK_IDLE:
            return
        if self._idle_read is None or self._idle_read.done():
            self._idle_since = now  # (the next: ``RECHECK_IDLE`` on, still idle)
            self._idle_read = asyncio.ensure_future(self._read_idle(head))
            self._idle_read.add_done_callback(_idle_read_ended)

    async def _read_idle(self, head: object) -> None:
        """``recheck_idle``'s try: what it read judged (``_persist_open``), unless a block came
        meanwhile (its own read and pass judge them) or a doubt began."""
        read = await self._read_rechecks()
        gate, m = self._not_applying, self.mirror
        if m.head is head and not m.doubt.held and (gate is None or gate.is_set()):
            self._persist_open(read)
            self._uncross()

    def _bitmap_nonces(self, fills: Iterable[FillEvent]) -> dict[str, set[int] | None]:
        """Of ``fills``, the bitmap nonces they may have filled with no event of their own,
        by maker (as the fills name it): of a filled bitmap order the node holds, its nonce; of an
        order it does not hold, every one (None: the mirror does not know its salt)."""
        nonces: dict[str, set[int] | None] = {}
        for f in fills:
            rec = self.records.get(f.order_hash)
            nonce = None if rec is None else bitmap_nonce(rec.signed.order.salt)
            if rec is not None and nonce is None:
                continue  # an ordinary order: its state is its own
            if nonce is None:
                nonces[f.maker] = None
            elif (known := nonces.setdefault(f.maker, set())) is not None:
                known.add(nonce)
        return nonces

    def _paid_sources(
        self, fills: Sequence[FillEvent], fee: tuple[str, int], least: Callable[[str], int]
    ) -> list[tuple[str | None, int]]:
        """Of ``fills`` (a block's, or those a reorg undid), those that paid this node
        (``readbudget.paid_here``) as their credited order's ``source`` (the peer that
        delivered it first) and block (``readbudget.credit_trades``, ``uncredit_trades``),
        their orders held in memory or stored: one rule for the credit and its taking back.
        A store read each of those not in memory (only fills paying this node's fee
        recipient are looked up); one the store refuses counts as not held, logged (small94:
        it failed the block's application, again at each try while the store refused).
        review92: a reorg after a restart took nothing back (a filled order is not in memory
        then). peers93: the credit read memory only, so a
        trade applied by the watcher after a restart (the settler had stored its fills, its
        orders filled, not reloaded) or after its records were evicted credited nobody, or,
        of a match whose payer alone was held, the payer's pusher."""
        held: dict[bytes, tuple[Order, str] | None] = {}
        unread: dict[bytes, str] = {}

        def of(order_hash: bytes) -> tuple[Order, str] | None:
            if order_hash not in held:
                rec = self.records.get(order_hash)
                try:
                    s = self.registry.stored(order_hash) if rec is None else None
                except (sqlite3.Error, StoreError) as e:  # (the block applied all the same)
                    s = None
                    unread[order_hash] = f"{type(e).__name__}: {e}"
                got = rec if rec is not None else s
                held[order_hash] = None if got is None else (got.signed.order, got.source)
            return held[order_hash]

        def order_of(order_hash: bytes) -> Order | None:
            return None if (o := of(order_hash)) is None else o[0]

        def pushed(order_hash: bytes) -> bool:
            return (o := of(order_hash)) is not None and o[1].startswith(readbudget.PEER_SOURCE)

        paid = readbudget.paid_here(fills, order_of, fee, least, pushed)
        sources: list[tuple[str | None, int]] = [
            (o[1], f.block_number) for f in paid if (o := of(f.order_hash)) is not None
        ]
        if unread:  # (small94: raised out of the block's application, applied again for good)
            self._unread_once(unread, {f.order_hash: f.block_number for f in fills})
        return sources

    _unread_said: dict[tuple[bytes, int], None] | None = None
    """(order, block) of the fills whose stored orders ``_paid_sources`` logged unread, the
    last ``UNREAD_SAID``: each logged once."""

    def _unread_once(self, unread: dict[bytes, str], blocks: dict[bytes, int]) -> None:
        """``_paid_sources``' orders the store refused, logged once an order and block
        (store95: again at each try of a block that another failure had applied again)."""
        said = self._unread_said
        if said is None:
            said = self._unread_said = {}
        new = [h for h in unread if (h, blocks.get(h, -1)) not in said]
        for h in new:
            said[(h, blocks.get(h, -1))] = None
        while len(said) > UNREAD_SAID:
            del said[next(iter(said))]
        if new:
            log.warning(
                "%d stored orders of fills not read (their trades' credit skipped): 0x%s: %.300s",
                len(new), new[0].hex(), unread[new[0]],
            )  # fmt: skip

    def _bitmap_kin(self, fills: Iterable[FillEvent]) -> set[bytes]:
        """The booked bitmap orders these fills may have filled with no event of their own
        (``_bitmap_nonces``; the mirror never judges them: ``Mirror.state``; the chain is
        read). Each maker's booked orders walked once a block, not once a fill."""
        kin: set[bytes] = set()
        for maker, want in self._bitmap_nonces(fills).items():
            for token in self.tokens:
                for e in self.book.orders_of(maker, token):
                    n = bitmap_nonce(e.order.salt)
                    if n is not None and (want is None or n in want):
                        kin.add(e.hash)
        return kin

    def _bitmap_undone(self, reverted: Iterable[FillEvent], rejudge: set[bytes]) -> set[str]:
        """Fills a reorg undid: into ``rejudge`` the held bitmap orders they may have closed
        with no event of their own (``_bitmap_nonces``), open or closed. Returned: those
        makers (lower case), whose evicted bitmap orders the store has."""
        nonces: dict[str, set[int] | None] = {}
        for maker, want in self._bitmap_nonces(reverted).items():
            known = nonces.get(maker := maker.lower(), set())
            nonces[maker] = None if want is None or known is None else known | want
        if not nonces:
            return set()
        for h, rec in self.records.items():
            o = rec.signed.order
            if (maker := o.maker.lower()) not in nonces:
                continue
            n = bitmap_nonce(o.salt)
            if n is not None and ((want := nonces[maker]) is None or n in want):
                rejudge.add(h)
        return set(nonces)

    _fills_said: dict[int, None] | None = None
    """Blocks whose fills' refused write ``_fills_stored`` logged, the last ``UNREAD_SAID``."""

    def _fills_stored(self, fut: asyncio.Future[list[StoredFill]], block: int = -1) -> None:
        """The watcher's fills (of the changes up to ``block``; -1: not a block's) are
        durable: those new (whoever stores a fill first, watcher or settler, publishes it)
        go out on the websocket. Refused: logged once a block (store96: at each try of it)."""
        if fut.cancelled():
            return
        if (e := fut.exception()) is not None:  # the watcher applies them again
            said = self._fills_said
            if said is None:
                said = self._fills_said = {}
            if block < 0 or block not in said:
                log.warning("fills of a block could not be stored (%s): again", e)
            if block >= 0:
                said[block] = None
                while len(said) > UNREAD_SAID:
                    del said[next(iter(said))]
            return
        for f in fut.result():
            self.events.publish({"type": "fill", **f.to_json()})

    async def _contract_sigs_moved(self, head: int) -> set[bytes]:
        """A new head for the EIP-1271 cache (expiry, the tracked makers' code read in one
        batch): the booked orders whose verdicts it dropped, to be judged by the chain."""
        try:
            await self.contract_sigs.refresh(head)
        except Exception as e:  # the verdicts stay; the next block reads the code again
            log.warning("EIP-1271 makers' code not read at block %d: %s", head, e)
        await self._charge_unproven(head)
        makers, hashes = self.mirror.sigs.take_rejudge()
        if not makers and not hashes:
            return set()
        return {
            h
            for h, rec in self.records.items()
            if (h in hashes or rec.signed.order.maker in makers) and h in self.book
        }

    async def _charge_unproven(self, head: int) -> None:
        """Peers' copies whose signature no wallet took, read ``LATER_BLOCKS`` below ``head``
        or more (``sdex.node.unproven``): their makers' code read at ``head``, and where it
        has none, in the blocks just below each copy's read (``Unproven.below``); none in
        any, the sender pays as for a forged copy; some, the copy may be fetched again."""
        if not (makers := self.unproven.due(head)):
            return
        try:
            has_code = await self.contract_sigs.has_code(makers, head)
            pairs, later = self.unproven.below(head, [m for m, c in has_code.items() if not c])
            had = await self.contract_sigs.had_code(pairs) if pairs else set()
        except Exception as e:  # (they wait: the next block reads them again)
            log.warning("peers' unproven signatures' makers not read at block %d: %s", head, e)
            return
        for maker in later:  # (past the bound of reads: at the next block)
            del has_code[maker]
        charge, spared = self.unproven.settle(head, has_code, had, set(pairs))
        for peer, copies in charge.items():
            if self.gossip is not None:
                self.gossip.penalize(peer, copies)
        for peer, order_hash in spared:
            self.refusals.forget(peer, "0x" + order_hash.hex())


SLICE = 0.02
"""Seconds a node's start works through its stored orders before it gives its loop a turn
(the port is open meanwhile: /health answers within about this, plus a turn's work)."""


async def yielding(items: Iterable[T]) -> AsyncIterator[T]:
    """``items``, giving the event loop a turn every ``SLICE`` seconds of work on them."""
    clock = time.perf_counter
    due = clock() + SLICE
    for item in items:
        yield item
        if clock() >= due:
            await asyncio.sleep(0)
            due = clock() + SLICE


def _idle_read_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (e := task.exception()) is not None:
        log.error("an idle chain's recheck read failed: tried again later", exc_info=e)
