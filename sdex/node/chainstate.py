"""Chain state applied to the book and the records: the watcher's block changes, the
mirror's verdicts, reorg reversals, persistence of open orders and the reload at start."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar

from sdex.book import RemovalReason
from sdex.book.errors import BookError
from sdex.chain import OrderState
from sdex.ingest import Accepted, Rejection, judge, removal_of
from sdex.ingest.intake import taker_never_trades
from sdex.ingest.verify import Eip1271Batcher, ecdsa_ok
from sdex.matching.match import TimeInForce
from sdex.model import CHAIN_CLOSED, OPEN_STATUSES, OrderStatus, closed_status
from sdex.node.held import hash_of
from sdex.node.intake import NodeIntake
from sdex.node.registry import Record
from sdex.node.views import _stored_fills
from sdex.order import SignedOrder
from sdex.store import StoredFill, StoredOrder
from sdex.watch import BlockChanges
from sdex.watch.changes import durable

T = TypeVar("T")

log = logging.getLogger("sdex.node")
CHAIN_CLOSED_NAMES = sorted(s.value for s in CHAIN_CLOSED)
REJUDGE_PAGE = 500
"""Closed orders read back from the store at a time, to be judged again (``_rejudge_stored``)."""


POLICY_REASONS = ("soft cancel by the maker", "self_trade", "unmatched", "removed")
"""Reasons of closes this node decided (not the chain): a reorg does not undo them."""


class NodeChainState(NodeIntake):
    """What the chain says about orders, applied to the book and the records."""

    contract_sigs: Eip1271Batcher
    _back: Mapping[bytes, int] = MappingProxyType({})  # the block's ``mined_again``
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
        await self.registry.track_writes(w.store_wait, w.stalled)
        try:
            await self._apply_block(changes)
        finally:
            if (rows := self.registry.tracked_writes()) is not None:
                changes.stored.append(rows)

    async def _apply_block(self, changes: BlockChanges) -> None:
        if changes.reset:
            self.latest_timestamp = changes.timestamp
            self.sender.forget_nonce()  # the old chain's nonces mean nothing here
            self.settler.broadcaster.reprobe()  # (maybe another engine: sync tried again)
        else:
            self.latest_timestamp = max(self.latest_timestamp, changes.timestamp)
        if changes.reorg_depth or changes.own_gone:
            self.sender.forget_nonce()  # a settlement in an undone block freed its nonce
        for f in changes.reverted:
            self.events.publish({"type": "fill", "event": "reverted", **f.to_json()})
        if (kept := self._undone.add(changes.reverted)) is not None:
            changes.stored.append(kept)  # (a restart before they are mined again: read back)
        remined = self._undone.mined_again(changes.fills)  # (undone by an earlier reorg)
        self._back = remined  # (for ``_rejudge``, this block's)
        if changes.fills:  # queued, not awaited: published once durable (_fills_stored)
            fills = list(_stored_fills(changes.fills, ours=False, ours_txs=self.settler.ours))
            stored = self.store.add_fills_async(fills)
            stored.add_done_callback(self._fills_stored)
            self.track_fills(stored)  # (the orders they close: a listing waits for them)
            changes.stored.append(stored)  # the watcher saves its head once they are durable
        # The orders of the settler's own fills too: it confirmed them from their receipt,
        # but a verdict from an older block of the mirror may have been applied since (a
        # maker's cancel-up-to re-judges its orders): now the mirror has these fills.
        affected: set[bytes] = {f.order_hash for f in changes.fills} | changes.cancelled
        rejudge = set(changes.rejudge)
        if changes.reverted or changes.reorg_depth:
            rejudge |= {f.order_hash for f in changes.fills}
            rejudge |= {f.order_hash for f in changes.reverted}
        makers = changes.makers_cancelled_up_to
        if makers:
            for rec in self.records.values():
                if rec.signed.order.maker in makers:
                    rejudge.add(rec.signed.hash)
        if changes.reset:
            rejudge |= set(self.records)
        for h in rejudge:  # a closed order evicted from memory comes back from the store
            self.registry.load(h)
        self.registry.pin(rejudge)  # and stays there across the awaits below
        try:
            # Funds: the watcher re-read every touched account the book or the mirror holds.
            # Set before any await: a settlement of a later block confirmed meanwhile takes its
            # fill off these funds, where funds set after it would give the fill back.
            self._accounts_from_mirror(changes.funds)
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
            self._remined({h: n for h, n in remined.items() if h not in rejudge})
            if (forgotten := self._undone.forget(changes.fills)) is not None:
                changes.stored.append(forgotten)
            for h, reason in self.book.expire(self.now()):
                self._book_closed(h, reason)
            self._persist_open()
            self._uncross()
        finally:
            self._back = MappingProxyType({})
            self.registry.unpin(rejudge)

    def _remined(self, amounts: dict[bytes, int]) -> None:
        """Fills a reorg undid, mined again in this block (the same transactions): a closed
        order out of the book (e.g. an IOC closed ``removed`` when they were undone) takes
        them back into its filled amount, up to the chain's. Those alone: a fill of it the
        reorg did not undo stays out, for the audit to see (``fill_after_node_closed``)."""
        for h, amount in amounts.items():
            if h in self.book:
                continue  # the book's orders take the chain's filled amount (``_on_block``)
            rec = self.registry.load(h)  # (evicted: back from the store)
            if rec is None or rec.status.is_open:
                continue
            filled = min(self.mirror.filled_of(h), rec.filled + amount)
            if filled > rec.filled:
                self._closed_filled(rec, filled)

    def _closed_filled(self, rec: Record, filled: int) -> None:
        """A closed order's filled amount as the chain now has it. A one-shot order removed
        only because a reorg undid its fills (``_rejudge``), with them back, is what its
        settlement made it (review23: it stayed ``removed``, "its fills were undone")."""
        if (
            filled > rec.filled
            and rec.status is OrderStatus.REMOVED
            and rec.reason == _undone_reason(rec.tif)
        ):
            if filled >= rec.signed.order.maker_amount:
                self.registry.transition(rec, OrderStatus.FILLED, "filled", filled=filled)
                return
            rec.reason = f"{rec.tif.value}: partly filled; the unmatched rest was dropped"
        self.registry.correct_filled(rec, filled)

    async def _rejudge_stored(self, makers: list[str] | None, walked: dict[str, int]) -> None:
        """After a reset (every order) or a cancel-up-to (``makers``' orders): the orders
        closed by the chain and evicted from memory are judged again too, a page at a time
        (``_rejudge``: reopened, or closed otherwise). Those that stay as stored leave
        memory again at once, so memory holds a page, whatever the number of closed orders.
        One maker at a time (its (maker, seq) index), each page read off the event loop,
        which runs between pages. ``walked``: how far each walk went (``""``: the walk of
        every maker), so changes applied again after a failure resume it there."""
        w = self.watcher  # (each page read on the writer thread: a stall said on /health)
        for maker in [None] if makers is None else makers:
            key = maker or ""
            after = walked.get(key, 0)
            while after >= 0:
                read = self.store.orders_after(
                    CHAIN_CLOSED_NAMES, maker, after, REJUDGE_PAGE, POLICY_REASONS
                )
                page, last = await durable(read, w.store_wait, w.stalled)
                await self._rejudge_page(page)
                after = walked[key] = last if last > after else -1  # (-1: through)
                await asyncio.sleep(0)  # (what else waits runs between pages)

    async def _rejudge_page(self, page: list[StoredOrder]) -> None:
        """``_rejudge_stored``'s page: loaded, judged, unloaded again if left as stored."""
        loaded: list[tuple[Record, tuple[str, str, int, str]]] = []
        for s in page:
            if s.signed.hash in self.records:
                continue  # held: judged in ``_on_block``
            rec = self.registry.load_stored(s)
            loaded.append((rec, rec.row()))
        hashes = {r.signed.hash for r, _ in loaded}
        self.registry.pin(hashes)  # (not evicted while the chain is read)
        try:
            await self._judge_from_mirror([r.signed for r, _ in loaded], reopen=hashes)
        finally:
            self.registry.unpin(hashes)
        for rec, row in loaded:
            if rec.row() == row:  # as stored: nothing changed, nothing to write
                self.registry.unload(rec)

    def _fills_stored(self, fut: asyncio.Future[list[StoredFill]]) -> None:
        """The watcher's fills are durable: those new (whoever stores a fill first, watcher
        or settler, publishes it) go out on the websocket."""
        if fut.cancelled():
            return
        if (e := fut.exception()) is not None:  # the watcher applies them again
            log.warning("fills of a block could not be stored (%s): again", e)
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
        makers, hashes = self.mirror.sigs.take_rejudge()
        if not makers and not hashes:
            return set()
        return {
            h
            for h, rec in self.records.items()
            if (h in hashes or rec.signed.order.maker in makers) and h in self.book
        }

    async def _judge_from_mirror(
        self, orders: list[SignedOrder], reopen: set[bytes], verify: set[bytes] | None = None
    ) -> None:
        """Apply the mirror's view of ``orders`` (a chain read only for accounts it does not
        hold yet, all in one call); orders in ``reopen`` may come back to the book. Orders
        of EIP-1271 makers without a cached verdict, and those in ``verify``, are judged by
        the chain (one batch, ``Eip1271Batcher``)."""
        states: dict[bytes, OrderState] = {}
        unknown: list[SignedOrder] = []
        contract: list[SignedOrder] = []
        sigs = self.mirror.sigs
        for so in orders:
            tracked = (verify is not None and so.hash in verify) or sigs.tracks(so.order.maker)
            if tracked and not sigs.verdict(so):  # (a cached False: the chain is asked again)
                contract.append(so)
                continue
            st = self.mirror.state(so)
            if st is None:
                unknown.append(so)
            else:
                states[so.hash] = st
        read_at = self.mirror.head.number if self.mirror.head is not None else -1
        if contract:
            for so, st in zip(contract, await self.contract_sigs.get_many(contract), strict=True):
                if st.signature_valid:
                    self.mirror.learn(so, st, read_at)
                states[so.hash] = st
        if unknown:
            for so, st in zip(unknown, await self.batcher.get_many(unknown), strict=True):
                self.mirror.learn(so, st, read_at)
                states[so.hash] = st
        # Not the orders an own settlement filled in a block the mirror has not applied
        # yet (its receipt came first, maybe during the reads above): the mirror's verdict
        # on them is older than what the node confirmed. That block judges them again.
        ahead, _ = self.mirror.ahead()
        for so in orders:
            if so.hash in ahead:
                continue
            state = states[so.hash]
            if so.hash in reopen:
                self._rejudge(so, state)
            else:
                self._apply_chain_state(so, state)

    def _filled_elsewhere(self, so: SignedOrder, filled: int) -> None:
        """The chain's filled amount differs from the book's (fills made elsewhere, or
        undone). If what is left is dust the book closes the order: so does its record."""
        self.registry.set_filled(so.hash, filled)
        st = self.book.get(so.hash)
        if st is None or st.closed is not None:
            rec = self.records[so.hash]
            self.registry.close(rec, OrderStatus.FILLED, "filled elsewhere", filled)

    def _rejudge(self, so: SignedOrder, state: OrderState) -> None:
        """After a reorg or reset: the chain's word on an order, whatever it was before. An
        order closed by the chain (filled, cancelled on chain, expired) that the chain now
        holds fillable returns to the book; the websocket says ``reopened``."""
        rec = self.registry.load(so.hash)  # (evicted meanwhile: back from the store)
        if rec is None:
            return
        st = self.book.get(so.hash)
        if st is not None and st.closed is None:
            before = st.filled
            self._apply_chain_state(so, state)
            if state.filled < before:
                self.registry.publish(rec, "fill_reverted")
            return
        if st is not None and st.pending:  # in flight: the settler's outcome decides
            return
        if (
            rec.status not in CHAIN_CLOSED
            or rec.reason in POLICY_REASONS
            or rec.cancel_signature is not None
        ):
            # open, or removed here by policy (soft cancel, self-trade...), or closed by
            # the chain and soft-cancelled by its maker since: stays so, with the chain's
            # filled amount when closed (review20: a soft-cancelled order kept a fill a
            # reset undid, shown filled with no fill listed)
            # (up only by fills a reorg undid, mined again: review23, a cancel-up-to took in
            # a fill made after a soft cancel, hiding it from the audit)
            filled = state.filled
            if filled > rec.filled:
                filled = min(filled, rec.filled + self._back.get(so.hash, 0))
            if not rec.status.is_open and rec.filled != filled:
                self._closed_filled(rec, filled)
            return
        verdict = judge(so, state)
        removal = removal_of(verdict)
        o = so.order
        if removal is None and rec.tif is not TimeInForce.GTC:
            # an IOC or FOK order never rests, whatever the chain says is left of it (as at
            # a restart: ``_load_stored``): closed as it was unless the chain undid some of
            # its fills. review20: reopened, a reorg's rested for its whole amount, matched
            # again and its rest stayed in the book; a partly filled IOC (its rest dropped)
            # rested its rest after its maker's cancel-up-to
            if state.filled < rec.filled:
                why = _undone_reason(rec.tif)
                self.registry.transition(rec, OrderStatus.REMOVED, why, filled=state.filled)
            elif state.filled != rec.filled:
                self.registry.correct_filled(rec, state.filled)
            return
        if removal is None:
            funds = min(state.maker_balance, state.maker_allowance)
            self._mirror_funds(o.maker, o.maker_token, funds)
            try:
                back = self.registry.rests(so, state.filled)
            except BookError as e:
                log.info("order %s cannot return to the book: %s", so.hash_hex, e)
                return
            if not back:
                # what the chain leaves is dust (a maker's cancel-up-to makes us look again
                # at orders closed here as filled with dust left): it stays closed
                if rec.filled != state.filled:
                    self.registry.correct_filled(rec, state.filled)
                return
            why = "reopened: the chain no longer has what closed it (reorg or reset)"
            self.registry.transition(
                rec, OrderStatus.OPEN, why, filled=state.filled, event="reopened"
            )
            self._announce_if_resting(rec)  # (read back from the store: not announced)
            return
        status = closed_status(removal, False)
        if status is OrderStatus.REMOVED:  # not the chain's to say (e.g. an invalid signature)
            status = rec.status
        if status != rec.status or state.filled != rec.filled:
            self.registry.close(rec, status, _message(verdict), state.filled)

    def _apply_chain_state(self, so: SignedOrder, state: OrderState) -> None:
        o = so.order
        funds = min(state.maker_balance, state.maker_allowance)
        self._mirror_funds(o.maker, o.maker_token, funds)
        st = self.book.get(so.hash)
        if st is None or st.pending:  # in flight: looked at again once the settler is done
            if st is not None:
                self._recheck.add(so.hash)
            return
        verdict = judge(so, state)
        reason = removal_of(verdict)
        if reason is None:
            if state.filled != st.filled:
                self._filled_elsewhere(so, state.filled)
            return
        if reason is RemovalReason.FILLED:
            self.registry.set_filled(so.hash, state.filled)
            rec = self.records[so.hash]
            if rec.status in OPEN_STATUSES:
                self.registry.close(rec, OrderStatus.FILLED, "filled on chain", state.filled)
            return
        self.registry.remove(so.hash, reason, _message(verdict))

    def _recheck_settled(self) -> None:
        """Orders a block touched while their own fills were in flight: once none is, take
        the mirror's filled amount if it is ahead (a fill made elsewhere meanwhile, which
        the settlement's receipt does not show). Reorgs, which lower it, are re-judged
        by the watcher's changes instead."""
        ahead, _ = self.mirror.ahead()
        for h in list(self._recheck):
            st = self.book.get(h)
            rec = self.records.get(h)
            if st is None or rec is None or st.closed is not None:
                self._recheck.discard(h)
                continue
            if st.pending or h in ahead:  # (ahead: the block of its fill judges it)
                continue
            self._recheck.discard(h)
            state = self.mirror.state(rec.signed)
            if state is not None and state.filled > st.filled:
                self._apply_chain_state(rec.signed, state)

    def _persist_open(self) -> None:
        """Orders whose own fills were in flight looked at again (``_recheck_settled``), then
        the registry stores and publishes what moved (``OrderRegistry.sync``)."""
        self._recheck_settled()
        self.registry.sync()

    async def _reload_orders(self) -> None:
        """Put the stored open orders back in the book, as the saved mirror has them (the
        chain, for makers whose funds it does not hold); ``load`` then has the watcher catch
        up. The closed ones stay on disk: only their hashes pass, into the registry's filter."""
        self._seq = max(self._seq, self.store.last_seq())
        await self._undone.attach(self.store)  # (fills a reorg undid before a restart)
        # (the port is open meanwhile, answering 503 "starting": each step below hands the
        # loop back every SLICE seconds, so that /health answers at once)
        unparseable: list[str] = []
        rows = [s async for s in yielding(self.store.orders(OPEN_STATUSES, skipped=unparseable))]
        # an open row that cannot be parsed is closed: known as stored (the filter below),
        # so that a peer's gossip of it is not accepted again over the row
        self.store.close_unparseable([h for h in unparseable if hash_of(h) is not None])
        closed = self.store.count_except(OPEN_STATUSES)
        self.registry.forget_stored(closed, ())
        hashes = self.store.hashes_except(OPEN_STATUSES)
        while chunk := list(itertools.islice(hashes, 2000)):  # (a hash costs ~10 us)
            self.registry.forget(chunk)
            await asyncio.sleep(0)
        async for s in yielding(rows):
            self.registry.hold(Record.of_stored(s), OrderStatus(s.status))
        stored = list(self.registry.open_records())
        if not stored:
            return
        read_at = self.mirror.head.number if self.mirror.head is not None else -1
        # orders not signed by ECDSA are read through the EIP-1271 batcher: it caches their
        # verdicts and tracks their makers, so later blocks judge them by the cache
        ecdsa = {r.signed.hash async for r in yielding(stored) if ecdsa_ok(r.signed) is True}
        plain = [r.signed for r in stored if r.signed.hash in ecdsa]
        contract = [r.signed for r in stored if r.signed.hash not in ecdsa]
        # From the saved mirror, at its head (on the chain: ``check_head``), where it holds
        # the maker's funds: no chain read. ``load`` then has the watcher apply the blocks
        # since (``Watcher.catch_up``) before the node is ready. Else, the chain's word now.
        by_hash: dict[bytes, OrderState] = {}
        if self.watcher.resumed:
            async for so in yielding(plain):
                if (st := self.mirror.state(so)) is not None:
                    by_hash[so.hash] = st
        unread = [so for so in plain if so.hash not in by_hash]
        self.reloaded_from_chain = len(unread)
        read = zip(
            unread + contract,
            await self.batcher.get_many(unread) + await self.contract_sigs.get_many(contract),
            strict=True,
        )
        by_hash.update((so.hash, st) for so, st in read)
        states = [by_hash[r.signed.hash] for r in stored]
        now = self.now()
        close = self.registry.close
        async for rec, state in yielding(zip(stored, states, strict=True)):
            self.mirror.learn(rec.signed, state, read_at)
            verdict = judge(rec.signed, state)
            removal = removal_of(verdict)
            o = rec.signed.order
            if removal is not None:
                close(rec, closed_status(removal, False), _message(verdict), state.filled)
            elif now >= o.expiry:
                close(rec, OrderStatus.EXPIRED, "expired", state.filled)
            elif why := taker_never_trades(o, self.domain.verifying_contract):
                close(rec, OrderStatus.REMOVED, why, state.filled)  # (an older version took it)
            elif rec.tif is not TimeInForce.GTC:  # its match was settled or not: it never rests
                why = f"{rec.tif.value}: not resting after restart"
                close(rec, OrderStatus.REMOVED, why, state.filled)
            else:  # the book has its filled amount now; sync stores it if it moved
                funds = min(state.maker_balance, state.maker_allowance)
                self.registry.set_funds(o.maker, o.maker_token, funds)
                if self.registry.rests(rec.signed, state.filled):
                    self._announce_if_resting(rec)  # (gossip starts later: marks it only)
                else:  # what the chain leaves is dust: nothing it can trade
                    self.registry.book_closed(rec.signed.hash, RemovalReason.DUST, state.filled)
        self._persist_open()


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


def _undone_reason(tif: TimeInForce) -> str:
    """A one-shot order's reason when a reorg or reset undid its fills (``_rejudge``)."""
    return f"{tif.value}: its fills were undone (reorg or reset); it never rests"


def _message(verdict: Accepted | Rejection) -> str:
    """The words of ``judge``'s verdict, kept as a closed order's reason."""
    return verdict.code.message if isinstance(verdict, Rejection) else "fillable"
