"""The reload of the stored open orders at a start (``_reload_orders``): each put back in the
book as the saved mirror has it, or as the chain's word has it where the mirror cannot judge
it (at "latest"; in a chain doubt at the mirror's head named by its hash, ``_stored_states``).
``sdex.node.core``'s ``load`` runs it; ``sdex.node.settle`` builds on it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
from collections.abc import Awaitable, Callable

import aiohttp

from sdex.book import RemovalReason
from sdex.chain import OrderState
from sdex.errors import ChainError, SdexError
from sdex.ingest import judge, removal_of
from sdex.ingest.verdicts import taker_never_trades
from sdex.ingest.verify import ecdsa_ok
from sdex.matching.match import TimeInForce
from sdex.model import OPEN_STATUSES, OrderStatus, closed_status
from sdex.node.adoption import NodeAdoption, named_orders
from sdex.node.chainstate import yielding
from sdex.node.held import hash_of
from sdex.node.registry import Record
from sdex.node.rejudge import restart_reason
from sdex.node.reopening import message
from sdex.node.retrylog import Retries
from sdex.order import SignedOrder
from sdex.store import StoreError
from sdex.storesettle import StoredSettlement
from sdex.watch.blocks import ZERO_HASH

log = logging.getLogger("sdex.node")


class DamagedRows(SdexError):
    """A start refused (``NodeConfig.refuse_damaged_rows``): the store holds order rows known
    damaged (``StoreReads.damaged_rows``)."""

    def __init__(self, damaged: dict[str, object]) -> None:
        hashes = damaged["hashes"]
        named = ", ".join(map(str, hashes)) if isinstance(hashes, list) else ""
        super().__init__(
            f"refusing to start (--refuse-damaged-rows): {damaged['count']} stored order rows "
            f"are damaged ({named}); put each right in the database (the log's 'cannot be "
            "parsed' warning says what is wrong in it; its status need not be set back: the "
            "next start reads it again and judges its order by the chain), or start without "
            "the option: those orders stay out of the book, named in /health store.damagedRows"
        )


class NodeReload(NodeAdoption):
    """A start's reload of the stored open orders (``_reload_orders``)."""

    _held_orders: tuple[list[SignedOrder], list[SignedOrder]] = ([], [])
    """The stored orders a start in doubt did not read (plain, contract-signed): their
    records open, out of the book till ``_judge_held`` judges them."""

    async def _reload_orders(self) -> None:
        """Put the stored open orders back in the book, as the saved mirror has them (the
        chain, for makers whose funds it does not hold); ``load`` then has the watcher catch
        up. The closed ones stay on disk: only their hashes pass, into the registry's filter."""
        self._seq = max(self._seq, self.store.last_seq())
        await self._undone.attach(self.store)  # (fills a reorg undid before a restart)
        await self.load_orphans()  # (peers' cancels of orders not held yet: cancel63)
        # (the port is open meanwhile, answering 503 "starting": each step below hands the
        # loop back every SLICE seconds, so that /health answers at once)
        self.store.reopen_repaired()  # (closed unparseable, put right since: read, judged)
        unparseable: list[str] = []
        rows = [s async for s in yielding(self.store.orders(OPEN_STATUSES, skipped=unparseable))]
        # an open row that cannot be parsed is closed: known as stored (the filter below),
        # so that a peer's gossip of it is not accepted again over the row
        self.store.close_unparseable([h for h in unparseable if hash_of(h) is not None])
        if self.config.refuse_damaged_rows and (damaged := self.store.damaged_rows())["count"]:
            raise DamagedRows(damaged)
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
        got = await self._stored_states(unread, contract)
        if got is None:  # (in a doubt, not read at our head: held, judged once read)
            self._held_orders = (unread, contract)
            self._hold_start(f"the stored orders not read at our head yet ({self.held_why()})")
            stored = [r for r in stored if r.signed.hash in by_hash]
        else:
            by_hash.update((so.hash, st) for so, st in zip(unread + contract, got, strict=True))
        now = self.chain_time()  # (expired by the chain's clock: landing49)
        async for rec in yielding(stored):
            self._judge_stored(rec, by_hash[rec.signed.hash], read_at, now)
        self._persist_open()

    def _judge_stored(self, rec: Record, state: OrderState, read_at: int, now: float) -> None:
        """A stored open order judged on ``state`` (read at block ``read_at``) at a start:
        closed, or put back in the book (``_reload_orders``, ``_judge_held``)."""
        self.mirror.learn(rec.signed, state, read_at)
        verdict = judge(rec.signed, state)
        removal = removal_of(verdict)
        o = rec.signed.order
        close = self.registry.close
        if removal is not None:
            close(rec, closed_status(removal, False), message(verdict), state.filled)
        elif now >= o.expiry:
            close(rec, OrderStatus.EXPIRED, "expired", state.filled)
        elif why := taker_never_trades(o, self.domain.verifying_contract):
            close(rec, OrderStatus.REMOVED, why, state.filled)  # (an older version took it)
        elif rec.tif is not TimeInForce.GTC:  # its match was settled or not: it never rests
            why = restart_reason(rec.tif, state.filled)
            close(rec, OrderStatus.REMOVED, why, state.filled)
        else:  # the book has its filled amount now; sync stores it if it moved
            funds = min(state.maker_balance, state.maker_allowance)
            self.registry.set_funds(o.maker, o.maker_token, funds)
            if self.registry.rests(rec.signed, state.filled):
                self._announce_if_resting(rec)  # (gossip starts later: marks it only)
            else:  # what the chain leaves is dust: nothing it can trade
                self.registry.book_closed(rec.signed.hash, RemovalReason.DUST, state.filled)

    async def _stored_states(
        self, plain: list[SignedOrder], contract: list[SignedOrder]
    ) -> list[OrderState] | None:
        """(``_reload_orders``) The chain's word on the stored orders the saved mirror cannot
        judge: at "latest"; while the chain's identity is in doubt, at the mirror's head named
        by its hash (EIP-1898), which another chain does not hold and cannot answer for.
        doubt82: read at "latest" in a doubt, another chain's "filled" or "cancelled"
        closed an acknowledged order for good, and ``Mirror.learn`` kept that chain's funds.
        An error (another chain's backend, a balancer's turn) is asked again, ``DOUBT_READS``
        times at most, the pause doubled from ``DOUBT_READ_STEP``; then None, as at once in a
        doubt with no head of ours to name (none saved, or one proven gone): the start holds
        matching and settlement, the orders judged once read (``_judge_held``). doubt83: the
        start failed (a pruned node with an old head, a provider without EIP-1898 for
        ``eth_call``): an endpoint that kept flapping kept the node from starting."""
        head = self.mirror.head
        why = self.mirror.doubt.held
        if why and (head is None or head.hash == ZERO_HASH):  # (doubt83: read "latest")
            log.warning("stored orders not read in doubt (%s): no head of ours to name", why)
            return None
        if not why or head is None:
            return await self.batcher.get_many(plain) + await self.contract_sigs.get_many(contract)
        pause = DOUBT_READ_STEP
        for k in range(DOUBT_READS):
            try:
                return await self._states_in(plain, contract, head.number, head.hash)
            except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
                then = "held" if k == DOUBT_READS - 1 else "again"
                log.warning("stored orders not read at block %d in doubt (%s): %s; %s",
                            head.number, why, e, then)  # fmt: skip
            if k < DOUBT_READS - 1:
                await asyncio.sleep(pause)
                pause *= 2
        return None

    def _hold_start(self, why: str) -> None:
        """The start holds matching and settlement (``NodeGate.held_why``) till
        ``_judge_held`` ends it."""
        log.warning("the start holds matching and settlement: %s", why)
        self._start_held = why
        self.engine.held = True

    def _start_holds(self, pooled: list[StoredSettlement]) -> bool:
        """(``load``, the orders loaded and caught up) Whether the start holds: stored orders
        not read (``_stored_states``), or a doubt with no head of ours (none saved, or one a
        catch-up's reset cleared): then what a previous run left pooled is adopted once the
        doubt ends (``_judge_held``). doubt83: ``_adopt`` asked the chain's head in the
        doubt, another chain's height maybe the bound of the rows adopted unread
        (``counted_at_start`` could give a real fill back, its orders matched again). The
        orders ``pooled`` names: their soft cancels refused till then (``_pooled_held``)."""
        head, why = self.mirror.head, self.mirror.doubt.held
        if not self._start_held and why and (head is None or head.hash == ZERO_HASH):
            self._hold_start(f"what the last run left pooled not adopted in doubt ({why})")
        if self._start_held:
            self._pooled_held = named_orders(pooled)
        return bool(self._start_held)

    async def _judge_held(self, pooled: list[StoredSettlement], then: Callable[[], None]) -> None:
        """(A start that holds: ``_start_holds``; a task of the node's) The stored orders the
        start did not read read till one read gives our chain's word (``_held_states``), then
        judged as a start judges them, what the previous run left pooled adopted
        (``_adopt_rows``), the peers' cancels kept meanwhile applied (``cancels_kept``), a
        kill's rechecks judged, ``then`` called (the settler's run begins) and the hold ended:
        the book uncrossed, the settler woken (``_gate_changed``). A step the store or the
        chain refuses is tried again till it is done (``_held_step``: review86b, a row's
        mark refused under a lock held the start for ever). Any other error is a defect: the
        hold stands (nothing is matched on a book half judged), logged, and ``/health`` says
        so, and to restart the node (review85: only logged, ``/health`` said the first reason)."""
        why = self._start_held
        try:
            await self._judged_held(pooled, then)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("the start's hold: the held orders not judged; matching stays held")
            self._start_held = (
                f"the start's hold cannot end: {type(e).__name__}: {e} (a defect: restart the "
                f"node); held since the start: {why}"
            )

    async def _judged_held(self, pooled: list[StoredSettlement], then: Callable[[], None]) -> None:
        wake = self.mirror.doubt.wake
        pause = DOUBT_READ_STEP
        tries = Retries()  # (the reads' failures: logged at each doubling, watch89)
        while (got := await self._held_states(tries)) is None:
            wake.clear()  # (a doubt's end after it sets it again: looked at at once)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await wake.wait()
            pause = min(2 * pause, HELD_READ_MAX)
        states, read_at, loaded = got
        plain, contract = self._held_orders
        now = self.chain_time()
        for so, state in zip(plain + contract, states, strict=True):  # (no await: one turn)
            rec = self.records.get(so.hash)
            if rec is not None and rec.status.is_open and so.hash not in self.book:
                self._judge_stored(rec, state, read_at, now)
        self._held_orders = ([], [])
        self._persist_open()
        rows, bound = list(pooled), await self._adopt_bound(loaded)  # (once: each row's bound)
        await self._held_step("a pooled row's adoption", lambda: self._adopt_rows(rows, *bound))
        self._pooled_held = frozenset()  # (adopted or given up: a cancel is as any now)
        self.cancels_kept()  # (the peers' kept meanwhile: review86b)
        await self._held_step("the rechecks a kill left", self._recheck_stored)
        then()
        log.warning("the start's hold ends: the stored orders read at block %d", read_at)
        self._start_held = ""
        self._gate_changed()

    async def _held_step(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        """(``_judged_held``) ``step`` run till it is done: one the store refuses (another
        connection holding its write lock past the writer's busy timeout, a full disk) or
        the chain (an RPC error) run again, the pause doubled from ``DOUBT_READ_STEP`` up to
        ``HELD_READ_MAX``, ``held_why`` (``/health``'s ``chainMirror.startHold``) saying so
        meanwhile, its refusals logged at each doubling of the tries (``Retries``: watch89,
        a lock held for hours logged a line every ~4 s). Each step may be run again where
        it failed: a row's adoption is taken off its list once done (``_adopt_rows``), a
        kill's rechecks read again. review86b: a
        row's mark refused once held the start for ever, nothing matched or settled, the
        soft cancels of the rows' orders refused 503 for good."""
        why, pause, tries = self._start_held, DOUBT_READ_STEP, Retries()
        while True:
            try:
                await step()
            except REFUSED as e:
                said = f"{type(e).__name__}: {e}"
                if tries.failed(said):  # (the first, then at each doubling: watch89)
                    (log.warning if tries.tries == 1 else log.info)(
                        "the start's hold: %s refused (%s): %d tries so far, tried again in "
                        "%g s (logged again at twice the tries)", what, said, tries.tries, pause
                    )  # fmt: skip
                n = tries.tries
                self._start_held = f"{why}; {what} refused ({said}), tried again ({n} so far)"
                await asyncio.sleep(pause)
                pause = min(2 * pause, HELD_READ_MAX)
            else:
                self._start_held = why
                return

    async def _held_states(
        self, tries: Retries | None = None
    ) -> tuple[list[OrderState], int, int | None] | None:
        """The held orders' states (``_held_orders``), the block they were read at and the
        bound of the rows adopted after them (None: ``_adopt`` asks the chain's head), or
        None if not read: at the mirror's head named by its hash, unless the mirror moved
        meanwhile (its block's fills not in the read); out of a doubt, at "latest" if that
        read fails (a provider without EIP-1898) or the mirror moved past it (review85: a
        chain faster than the read held the start for ever), unless a doubt was said meanwhile
        (doubt83: another chain's "cancelled" closed an acknowledged order). In a doubt
        with no head of ours, none. A read's failure is logged as ``tries`` says (at each
        doubling of them: watch89, a chain refusing the reads for hours logged every ~4 s)."""
        doubt, head = self.mirror.doubt, self.mirror.head
        plain, contract = self._held_orders
        said = doubt.said_count
        ours = head is not None and head.hash != ZERO_HASH
        if doubt.held and not ours:
            return None
        if head is not None and ours:
            try:
                states = await self._states_in(plain, contract, head.number, head.hash)
            except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
                if tries is None or tries.failed(f"at {head.number}: {e}"):
                    log.info("held stored orders not read at block %d: %s (%d tries so far)",
                             head.number, e, tries.tries if tries else 1)  # fmt: skip
            else:
                if self.mirror.head is head:
                    return states, head.number, head.number
                if doubt.held:  # (moved past: out of the doubt, read at "latest" below)
                    return None
        if doubt.held:
            return None
        head = self.mirror.head  # (review85: a read the mirror moved past, each time: held)
        at = head.number if head is not None else -1
        try:
            states = await self.batcher.get_many(plain) + await self.contract_sigs.get_many(
                contract
            )
        except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
            if tries is None or tries.failed(f"latest: {e}"):
                log.info("held stored orders not read at the chain's latest block: %s (%d tries "
                         "so far)", e, tries.tries if tries else 1)  # fmt: skip
            return None
        if doubt.held or doubt.said_count != said:  # (maybe another chain's: read again)
            log.warning("held stored orders read in a doubt said meanwhile: read again")
            return None
        return states, at, None

    async def _states_in(
        self, plain: list[SignedOrder], contract: list[SignedOrder], block: int, block_hash: str
    ) -> list[OrderState]:
        """``plain``'s and ``contract``'s states at the block of hash ``block_hash``."""
        states = await self.batcher.get_many_in(plain, block, block_hash)
        return states + await self.contract_sigs.get_many_in(contract, block, block_hash)


DOUBT_READS = 5
"""Reads a start in a chain doubt makes at most of the stored orders the saved mirror cannot
judge, at the mirror's head by its hash (``_stored_states``): an endpoint that flaps between
two chains answers ours at one of them, maybe."""
DOUBT_READ_STEP = 0.5
"""Seconds before the second such read (doubled before each next: 7.5 s in all)."""
HELD_READ_MAX = 4.0
"""Most seconds between two reads of the orders a start holds (``_judge_held``), looked at
again at once when the doubt ends."""
REFUSED = (StoreError, sqlite3.Error, aiohttp.ClientError, OSError, TimeoutError, ChainError)
"""The errors of a held start's step that are the store's or the chain's refusal, tried
again (``_held_step``); any other is a defect (``_judge_held``)."""
