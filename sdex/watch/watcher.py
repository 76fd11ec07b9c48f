"""Follows the chain block by block into the mirror, and reports what changed to the node.

Per poll: the latest block; when new, the headers since our head and the range's logs
(Exchange events, listed tokens' ``Transfer``/``Approval``) in one JSON-RPC batch. While
own settlements are about, headers come first and only blocks holding other transactions
have their logs read (the settler's receipts carry ours). Headers must chain onto ours,
every log's block hash must be its header's; otherwise:

- **reorg**: walk our kept headers (``Mirror.depth``, default 128) back to the fork point,
  undo the mirror to it, delete the undone blocks' fills, replay the new branch; the node
  re-judges every order both touched, or an own receipt of an undone block (``rejudge``);
- **reset**: no kept header is on the chain any more (a restarted devnet), the
  deployment block's hash changed, or a head below every kept header has another block
  at our sparse checkpoint below it (``sdex.watch.fork.rewound``): forget the old chain,
  re-read from the deployment block, and tell the node to re-judge every order (a head
  below ours with our block there, or one of our blocks, is ``behind``: a lagging
  backend; only a devnet's is reset or rewound after a while).

New heads come from an ``eth_subscribe("newHeads")`` WebSocket when the RPC offers one
(Hardhat does; ``sdex.watch.heads``), with a slow poll behind it; otherwise from polling. A
notified header stands for the latest block (not asked for again), and a single new block
whose parent is our head is read alone (our head is not re-read: the block read must be
the one announced); a poll our receipt wakes before its block is announced waits a moment
for that (``unannounced``) instead of asking for "latest"; blocks announced one by one that
each hold our settlement alone are not read at all (``own_alone``, ``own_run``). When to
poll, backing off while the chain is down, and the status said: ``sdex.watch.loop``.
The node applies the changes first; then the mirror and its head are saved in one SQLite
transaction: a block is never marked processed before its changes are in the book.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

from sdex.chain.arpc import AsyncRpc
from sdex.chain.rpc import quantity
from sdex.errors import ChainError
from sdex.hashfilter import HashFilter, capacity_for
from sdex.mirror import Account, Effects, Header, Mirror
from sdex.store import ChainIdentity, Store
from sdex.watch.blocks import (
    ZERO_HASH,
    Inconsistent,
    Reorg,
    own_alone,
    receipt_coming,
    unannounced,
)
from sdex.watch.changes import ApplyCallback, BlockChanges, ChainReset, durable
from sdex.watch.clocklead import ClockLead
from sdex.watch.falsefills import false_fills, late_fills
from sdex.watch.feed import borne_out
from sdex.watch.fork import Behind, Vanished, behind_for, check_head, fork_point, ours_again
from sdex.watch.funds import FUNDS_TRIES, read_funds, refresh_funds
from sdex.watch.loop import PollLoop, log
from sdex.watch.own import OwnBelow
from sdex.watch.ranges import LogsTooLarge, read_range, too_large
from sdex.watch.saved import load_saved

CATCH_UP_BLOCKS = 10_000
"""At start, the most blocks the chain may be past the saved head for the stored orders to be
judged from the saved mirror, the watcher catching up before the node is ready (``resumed``);
further behind, they are read from the chain and the watcher catches up meanwhile."""
GROW_AFTER = 8
"""Ranges read in a row at a halved span before it doubles again (busy blocks behind)."""
MAX_UNAPPLIED_FILLS = 100_000
"""Fills the node failed to apply (or store) held at most: past that the watcher reads no
further block until they are applied (memory bounded; nothing dropped)."""


class Watcher(PollLoop):
    """What one poll does (``poll_once``): new blocks into the mirror, reorgs and resets
    undone, false fills deleted, the node told, the mirror saved with its head."""

    def __init__(
        self,
        rpc: AsyncRpc,
        mirror: Mirror,
        store: Store,
        identity: ChainIdentity,
        start_block: int,
        apply: ApplyCallback,
        wanted: Callable[[Account], bool] | None = None,
        poll_interval: float = 0.05,
        max_range: int = 2_000,
        subscribe: bool = True,
        undoing: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(rpc, mirror, poll_interval, subscribe)
        self.store = store
        self.undoing = undoing
        """Called as a reorg or a reset begins, before the store's removal of the undone
        blocks' fills is queued (and as own receipts are found gone: ``OwnBelow``, or
        orphaned by a block applied at their height, ``_took``): a write
        queued after it must not store fills read before (the node's own settlements' fills,
        from their receipts: ``DurableFills.forget``). left61: the node learned of the reorg
        only when it applied it, after the watcher's reads of the new branch; a settler's
        retried write in between stored the old block's fills for good."""
        self.identity = identity
        self.start_block = start_block
        self.apply = apply
        self.wanted = wanted or (lambda a: a in mirror.funds)
        self.max_range = max_range
        self.span = max_range
        """Blocks read at once now: halved while the RPC refuses a range as too large
        (``sdex.watch.ranges.too_large``), doubled after ``GROW_AFTER`` reads in a row
        and at the head, up to ``max_range``."""
        self.split_reads = 0
        """Ranges read again in halves (refused as too large)."""
        self._fine = 0  # (ranges read in a row since the span last changed)
        self.checkpoint = start_block - 1
        """The last block read into the mirror (not saved yet while the node holds it)."""
        self.saved = start_block - 1
        """The block of the head last saved: past it, fills may not be durable yet."""
        self.latest_timestamp = 0
        self.lead = ClockLead()
        """Seconds the chain's clock runs ahead of ours, as its recent blocks showed on arrival
        (a reorg or reset sets it again): the node judges expiry by it (``NodeState.now``)."""
        self.blocks_processed = self.reorgs = self.deepest_reorg = self.resets = 0
        self.resets_begun = 0
        """Resets begun (``resets``: those done), counted before the store drops the old
        chain's settlements: the send path's view of the chain holds it
        (``sdex.chain.asend.ChainView``), so that every reset moves it, one that keeps the
        deployment block's hash too (reset70)."""
        self._unapplied: BlockChanges | None = None
        """Changes the mirror holds but the node failed to apply: applied again first."""
        self._unsure: dict[Account, int] = {}
        """Accounts whose funds a poll could not read (one call failed, not the token's
        code): read again with the next polls, counted; 0 after ``FUNDS_TRIES``."""
        self.applied: Header | None = None
        """The last block whose changes the node has applied and the store has saved."""
        self.resumed = False
        """The saved mirror is loaded and its head is on the chain (``check_head``): it holds
        the chain's state at that head (orders may be judged from it at start)."""
        self._awaited: frozenset[str] = frozenset()
        """Blocks of our receipts left for their announcement (``unannounced``, once each)."""
        self._own_below = OwnBelow(lambda: self.undoing())  # (gone: called at once, own76)
        """Own receipts above the chain's head, since when (``sdex.watch.own``)."""
        mirror.on_receipt = self._receipt_came  # a receipt the watcher may be waiting for
        self.unapplied.own = self._own_block  # (those hold no signature back)
        mirror.marks.lookup = store.mirror_order_now  # evicted marks: their committed rows
        self._load()

    # -- state ------------------------------------------------------------------------------

    def _load(self) -> None:
        """Resume from the saved mirror (``sdex.watch.saved.load_saved``; its head is
        re-checked against the chain)."""
        if (head := load_saved(self.store, self.mirror)) is not None:
            self.checkpoint = self.saved = head.number
            self.latest_timestamp = head.timestamp

    def _own_block(self, number: int) -> bool:
        """Whether block ``number``, announced, holds our settlement alone, its receipt here."""
        h = self.feed.header_at(number)  # (not a stale announcement: sign79)
        return h is not None and own_alone(self.mirror, h) is not None

    @property
    def block(self) -> int:
        """The block the node stands at: its saved head, or a reorg's fork point till saved."""
        return min(self.saved, self.checkpoint)

    def chain_view(self) -> tuple[int, str, int]:
        """The send path's view of the chain (``sdex.chain.asend.ChainView``): every reset
        moves it."""
        return self.start_block, self.identity.deploy_block_hash, self.resets_begun

    @property
    def lag(self) -> int:
        """Blocks the chain is ahead of what the node has applied and saved."""
        return max(0, self.chain_head - self.block)

    # -- the loop -----------------------------------------------------------------------------

    def _holding(self) -> bool:
        return self._unapplied is not None

    async def poll_once(self) -> bool:
        """Apply what is new; False when there was nothing. The latest block is the one a
        newHeads notification brought since the last poll, else asked for."""
        latest, self._notified = self._notified, None
        m = self.mirror
        head = m.head
        if latest is not None and head is not None and latest.number <= head.number:
            # announced late (a poll came first), or a reorg: ask (unless it is our head)
            latest = latest if latest.hash == head.hash else None
        if latest is not None and not await borne_out(self.rpc, self.feed, latest, head):
            latest = None  # (a lie, or the chain moved: asked; sign79)
        if latest is not None and self._deferred != latest.hash and receipt_coming(m, latest):
            self._notified, self._deferring, self._deferred = latest, True, latest.hash
            return False
        w = unannounced(m, self.feed.announced) if latest is None and self.listening else None
        if w and not w <= self._awaited:  # our receipt woke it: its header is on its way
            self._awaited, self._deferring = w, True
            return False
        if asked := latest is None:
            raw = await self.rpc.call("eth_getBlockByNumber", "latest", False)
            latest = Header.from_rpc(raw)
            m.announced.saw(latest.base_fee)  # (the settler's fee: the latest block's)
        self.chain_head = latest.number
        self._saw_latest(latest, asked)
        gone = self._own_below.gone(m, latest, self.identity)  # (a devnet rewound below them)
        same = m.head is not None and latest.hash == m.head.hash
        if same and self._unapplied is None and not gone and not m.own.late:  # (judged again)
            if m.doubt.why:  # (our head alone is no evidence: doubt78)
                deployed = (self.start_block, self.identity.deploy_block_hash)
                self.proved = await ours_again(self.rpc, m, deployed)
            return False
        changes = BlockChanges(head=0, head_hash="", timestamp=0)
        u = self._unapplied
        try:
            if u is None or len(u.fills) < MAX_UNAPPLIED_FILLS:  # (else those applied first)
                await self._advance(latest, changes)
        except Reorg:
            try:
                await self._reorg(latest, changes)
            except BaseException:  # applied or undone: what the mirror did must stay known
                if changes.applied or changes.fork >= 0 or changes.reset:
                    self._keep(changes)  # (and the old branch's fills dropped)
                raise
        if dropped := m.drop_own(gone, latest.number):  # (those ``_advance`` did not orphan)
            changes.rejudge |= dropped
            changes.own_gone = True
        changes.dropped.update((tx.lower(), latest.number) for tx in gone)
        head = m.head
        if head is None:
            return False
        if self._unapplied is not None:
            self._unapplied.merge(changes)
            changes, self._unapplied = self._unapplied, None
        try:
            read = await late_fills(self.rpc, m, changes)  # (past the window: the chain's)
            unmade = false_fills(self.store, m, changes, read)
            changes.reverted += await durable(unmade, self.store_wait, self.stalled)
            await self._refresh_funds(changes)
            changes.head, changes.head_hash = head.number, head.hash
            changes.timestamp = head.timestamp
            await self.apply(changes)
        except BaseException:
            self._unapplied = changes  # the mirror moved on: the node must still see these
            raise
        self.unapplied.caught_up(head.number)  # (the book is at it: signing need not wait)
        try:  # the head is saved only past blocks whose fills are durable
            await durable(asyncio.gather(*changes.stored), self.store_wait, self.stalled)
        except BaseException:
            self._unapplied = changes.fills_only()  # stored again before the head is saved
            raise
        orders, makers, funds = m.take_dirty()  # after applying, never before
        stall = (self.store_wait, self.stalled)  # (the loop runs on meanwhile)
        saved = (head.number, head.hash, head.timestamp)
        cps = m.checkpoints.take_dirty()  # (with the head: every one at or below it)
        bms = m.bitmaps.take_dirty()  # (as at the head: its blocks applied, none since)
        try:
            save = self.store.save_mirror(saved, orders, makers, funds, cps, bms, self._unsure)
            await durable(save, *stall)
        except BaseException:  # saved with the next try (a later poll, this head or later)
            m.checkpoints.dirty |= cps is not None
            m.bitmaps.dirty |= bms is not None
            m.dirty_orders.update(orders)
            m.dirty_makers.update(makers)
            m.dirty_funds.update(funds)
            if self._unapplied is None:
                self._unapplied = BlockChanges(head.number, head.hash, head.timestamp)
            raise
        self.latest_timestamp = head.timestamp
        self.lead.saw(head.number, head.timestamp)
        self.applied = head
        self.saved = head.number
        m.marks.evict(m.dirty_orders)  # saved: out of the window, they leave memory
        if m.marks.full:
            await self._grow_marks()
        return True

    async def _grow_marks(self) -> None:
        """The mirror's filter of evicted marks, rebuilt twice as large from the store (its
        walk off the event loop; nothing is evicted meanwhile: only ``poll`` evicts)."""
        marks = self.mirror.marks
        bigger = HashFilter(capacity_for(marks.evicted.count))
        await self.store.each_mark(bigger.add)
        marks.refilter(bigger)

    async def _reorg(self, latest: Header, changes: BlockChanges) -> None:
        """Undo the mirror to the fork point and replay the chain's branch (or reset)."""
        m = self.mirror
        fork = await self._fork_point(latest)
        if fork is None:
            await self._reset(changes)
            return
        if self.status == "behind":  # (the poll before's: it stood through the replay, replay79)
            self.replaying(f"a reorg after the chain was behind: re-read from block {fork + 1}")
        # the store first: if it refuses, the mirror is not undone and the next poll finds
        # the reorg again (undone first, the old branch's fills would stay stored for ever)
        self.undoing()  # (before the removal is queued: no await between)
        gone = self.store.remove_fills_above(fork)  # (awaited: a stall said on /health)
        changes.reverted = await durable(gone, self.store_wait, self.stalled)
        changes.reorg_depth, changes.fork = (depth := self.checkpoint - fork), fork
        # fills this poll read above the fork (an earlier range) are gone with their blocks
        changes.rejudge |= {f.order_hash for f in changes.fills if f.block_number > fork}
        changes.fills = [f for f in changes.fills if f.block_number <= fork]
        undone = m.undo_to(fork)
        self.checkpoint = fork
        changes.rejudge |= undone.orders
        changes.makers_cancelled_up_to |= undone.makers
        undone_funds = {a for a in undone.funds | undone.moved if self.wanted(a)}
        changes.funds |= undone_funds
        changes.reread |= undone_funds
        self.reorgs, self.deepest_reorg = self.reorgs + 1, max(self.deepest_reorg, depth)
        log.warning("reorg: %d blocks undone back to block %d", depth, fork)
        await self._advance(latest, changes)

    def _keep(self, changes: BlockChanges) -> None:
        """``changes`` (the mirror holds them) to be applied with the next poll's."""
        if changes.kept:  # (by ``_advance``, before a failure ``_reorg`` also keeps it)
            return
        changes.kept = True
        if self._unapplied is None:
            self._unapplied = changes
        else:
            self._unapplied.merge(changes)

    async def _advance(self, latest: Header, changes: BlockChanges, reset: bool = False) -> None:
        """Apply blocks from our head up to ``latest`` (at most ``span`` per read; a range
        refused as too large is read again in halves, ``LogsTooLarge`` for one block).
        ``reset``: called by ``_reset``, which read the deployment block just now (not asked
        again: an endpoint whose answer flaps had each ask reset again, without end;
        review69a)."""
        m = self.mirror
        applied = False
        while True:
            top = m.head
            if top is not None and latest.number <= top.number:
                if latest.hash != top.hash:
                    raise Reorg
                return
            start = top.number + 1 if top is not None else self.checkpoint + 1
            fresh = top is None and start == self.start_block and not reset
            if fresh and not await self._deployed_here():
                await self._reset(changes, told=True)  # (reads from the deployment block again)
                return
            end = min(latest.number, start + self.span - 1)
            eff = Effects()
            try:
                await read_range(self.rpc, m, self.feed.announced, start, end, latest, top, eff)
            except Inconsistent:
                if self._took(changes, eff, start) or applied:  # keep what was applied;
                    return  # the rest on the next poll
                raise
            except Reorg:
                raise  # (found before this range applied anything)
            except BaseException as e:  # what earlier blocks applied must still be seen
                big, took = too_large(e), self._took(changes, eff, start)
                if big and end > start and not took:  # again in halves, down to one block
                    self.span, self._fine = (end - start + 1) // 2, 0
                    self.split_reads += 1
                    log.info("blocks %d..%d too large for one read: %d at a time", start, end,
                             self.span)  # fmt: skip
                    continue
                if took or applied:
                    self._keep(changes)
                if big:
                    raise LogsTooLarge(start, e) from e
                raise
            applied = True
            self._took(changes, eff, start)
            self._fine += 1
            if end >= latest.number or self._fine >= GROW_AFTER:  # (larger again: busy
                self.span, self._fine = min(self.max_range, 2 * self.span), 0  # blocks pass)
            if end >= latest.number:
                return

    async def _deployed_here(self) -> bool:
        """(About to read from the deployment block, no head kept: a fresh store, or a reset)
        Whether the chain's deployment block is the identity's: one the chain behind the URL
        replaced since the node read it at start was followed with the old identity, no
        reset recorded, and the next start's ``Store._bind`` deleted every stored order as
        another chain's (resend68)."""
        deploy = await self.rpc.call("eth_getBlockByNumber", hex(self.start_block), False)
        if deploy is None:  # (a backend behind: the range read says more)
            return True
        return Header.from_rpc(deploy).hash.lower() == self.identity.deploy_block_hash.lower()

    def _took(self, changes: BlockChanges, eff: Effects, start: int) -> bool:
        """Blocks ``start``..the mirror's head, applied with effects ``eff``, into ``changes``."""
        m = self.mirror
        changes.fills.extend(eff.fills)
        changes.cancelled |= eff.cancelled
        changes.makers_cancelled_up_to |= eff.makers
        if eff.orphaned:  # (their nonces free: the lane's read again before its next
            self.undoing()  # signature, not once the node applied this poll; settle77)
        changes.rejudge |= eff.orphaned
        changes.own_gone |= bool(eff.orphaned)
        reread = {a for a in eff.funds if self.wanted(a)}
        changes.reread |= reread
        changes.funds |= reread | {a for a in eff.moved if self.wanted(a)}
        end = m.head.number if m.head is not None else start - 1
        if end < start:
            return False
        changes.applied, changes.low = True, start if changes.low < 0 else min(changes.low, start)
        self.blocks_processed += end - start + 1
        self.checkpoint = end
        return True

    async def _fork_point(self, latest: Header) -> int | None:
        """The fork point, or None for a reset (``sdex.watch.fork.fork_point``); ``Behind``
        for a chain below our blocks, a reset once it has been so for ``BEHIND_SECONDS``."""
        since, now = self._was_behind, time.monotonic()
        deployed, long = (self.identity, self.start_block), behind_for(since, now, self.identity)
        try:  # (Behind: since when, kept only through polls in a row that end so)
            return await fork_point(self.rpc, self.mirror, latest, deployed, long)
        except (Behind, Vanished):
            self._behind_since = now if since is None else since
            raise

    async def _reset(self, changes: BlockChanges, told: bool = False) -> None:
        """Another chain at the same RPC: start the mirror over from the deployment block.
        ``told``: by one answer of another hash for that block (``_deployed_here``), which
        the read here must repeat, else nothing is proven (``Inconsistent``: read again).
        review73: one flapped answer reset a live chain, the settlements signed since the
        start (pooled, or mined) given up and their matches signed again."""
        chain_id = quantity(await self.rpc.call("eth_chainId"))
        if chain_id != self.identity.chain_id:
            raise ChainReset(f"chain id is {chain_id}, not {self.identity.chain_id}")
        code = await self.rpc.call("eth_getCode", self.mirror.address, "latest")
        if not isinstance(code, str) or code in ("0x", "0x0", ""):
            raise ChainReset(f"no Exchange at {self.mirror.address} on this chain")
        deploy = await self.rpc.call("eth_getBlockByNumber", hex(self.start_block), False)
        if deploy is None:
            raise ChainReset(f"the chain has no block {self.start_block} (the deployment block)")
        header = Header.from_rpc(deploy)
        if told and header.hash == self.identity.deploy_block_hash.lower():
            raise Inconsistent(f"block {self.start_block} answered two hashes: read again")
        h = self.mirror.head
        if h is not None and h.hash == ZERO_HASH:  # (set aside at start: said then)
            log.info("the chain is read anew from block %d (mirror set aside)", self.start_block)
        else:
            log.warning(
                "chain reset: our head %s is not on the chain any more; re-reading from block %d",
                h.hash if h else "?",
                self.start_block,
            )  # (said till the replay is done: not the poll before's)
            self.replaying(f"a chain reset: the new chain re-read from block {self.start_block}")
        self.identity = ChainIdentity(self.identity.chain_id, self.identity.exchange, header.hash)
        self.resets_begun += 1  # (the send path's view moved: nothing signed before is sent)
        # one transaction: refused, no fill is dropped unannounced (the next try drops it)
        self.undoing()
        gone = self.store.reset_chain(self.identity)  # (awaited: a stall said on /health)
        changes.reverted = await durable(gone, self.store_wait, self.stalled)  # announced
        self.saved = self.checkpoint = self.start_block - 1
        changes.reset = True
        changes.fills.clear()  # the old chain's fills (an earlier range of this poll) too
        self.mirror.clear()
        self._unsure.clear()  # (the old chain's accounts: its failures count for nothing)
        self.resets += 1
        latest = Header.from_rpc(await self.rpc.call("eth_getBlockByNumber", "latest", False))
        self.chain_head = latest.number
        self._saw_latest(latest)
        await self._advance(latest, changes, reset=True)

    async def check_head(self) -> None:
        """At start: is the saved head still on the chain? (``sdex.watch.fork.check_head``)"""
        if (problem := await check_head(self.rpc, self.mirror)) is not None:
            self._set_status("unreachable", problem)
        h = self.mirror.head
        self.resumed = h is not None and problem is None and h.hash != ZERO_HASH
        if self.resumed and h is not None:  # (far behind: judged by the chain, as before)
            try:
                behind = quantity(await self.rpc.call("eth_blockNumber")) - h.number
            except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError):
                behind = CATCH_UP_BLOCKS + 1
            self.resumed = behind <= CATCH_UP_BLOCKS

    async def catch_up(self, polls: int = 3) -> None:
        """At start, before the node is ready: the blocks since the saved head applied (what
        the chain changed while the node was down: fills, cancels, funds), so that orders
        judged from the saved mirror are judged as the chain has them now. A poll that fails
        is left to ``run`` (it tries again; ``/health`` says why meanwhile, 503); a read the chain
        moved under is tried again, as ``run`` would."""
        for _ in range(polls):
            try:
                if not await self.poll_once():
                    return
            except Inconsistent:  # the chain moved under the read (``run`` bears a few)
                continue
            except Exception as e:
                self.failed_before_run(e)  # (logged: the watcher tries again)
                return

    async def _refresh_funds(self, changes: BlockChanges) -> None:
        """Re-read the touched accounts someone needs at the mirror's head block."""
        if (head := self.mirror.head) is not None:
            reread, unsure = changes.reread, self._unsure
            await refresh_funds(self.rpc, self.mirror, reread, unsure, self.wanted, head)


__all__ = ["FUNDS_TRIES", "BlockChanges", "ChainReset", "Watcher", "read_funds"]
