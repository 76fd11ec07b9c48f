"""The chain's blocks into the mirror: the range from our head to the latest block read
(``sdex.watch.ranges``), and the chain's other branch when our head is not on it.

Headers must chain onto ours, every log's block hash must be its header's; otherwise:

- **reorg**: walk our kept headers (``Mirror.depth``, default 128) back to the fork point,
  undo the mirror to it, delete the undone blocks' fills, replay the new branch; the node
  re-judges every order both touched, or an own receipt of an undone block (``rejudge``);
- **reset**: no kept header is on the chain any more (a restarted devnet), the
  deployment block's hash changed, or a head below every kept header has another block
  at our sparse checkpoint below it (``sdex.watch.fork.rewound``): forget the old chain,
  re-read from the deployment block, and tell the node to re-judge every order (a head
  below ours with our block there, or one of our blocks, is ``behind``: a lagging
  backend; only a devnet's is reset or rewound after a while).

What a poll does with what was read (false fills, the node told, the mirror saved) is
``sdex.watch.watcher``'s; when it polls, ``sdex.watch.loop``'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sdex.chain.arpc import AsyncRpc
from sdex.chain.rpc import quantity
from sdex.mirror import Account, Effects, Header, Mirror
from sdex.store import ChainIdentity, Store
from sdex.watch.blocks import ZERO_HASH, Inconsistent, Reorg
from sdex.watch.changes import BlockChanges, ChainReset, durable
from sdex.watch.fork import Behind, Vanished, behind_for, fork_point
from sdex.watch.loop import PollLoop, log
from sdex.watch.ranges import LogsTooLarge, read_range, too_large

GROW_AFTER = 8
"""Ranges read in a row at a halved span before it doubles again (busy blocks behind)."""


class Follower(PollLoop):
    """Where the mirror stands on the chain and how it gets to the chain's head: ranges read
    forward (``_advance``), a reorg undone to its fork point (``_reorg``), a reset read anew
    from the deployment block (``_reset``). ``poll_once`` is the ``Watcher``'s."""

    def __init__(
        self,
        rpc: AsyncRpc,
        mirror: Mirror,
        store: Store,
        identity: ChainIdentity,
        start_block: int,
        wanted: Callable[[Account], bool] | None,
        poll_interval: float,
        max_range: int,
        subscribe: bool,
        undoing: Callable[[], None],
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

    def unread(self, account: Account) -> bool:
        """Whether a poll failed to read ``account``'s funds, not read since: the mirror's
        figure is older than its head (not the book's: review97f)."""
        return account in self._unsure

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

    def _keep(self, changes: BlockChanges) -> None:
        """``changes`` (the mirror holds them) to be applied with the next poll's."""
        if changes.kept:  # (by ``_advance``, before a failure ``_reorg`` also keeps it)
            return
        changes.kept = True
        if self._unapplied is None:
            self._unapplied = changes
        else:
            self._unapplied.merge(changes)

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

    async def _reorg(self, latest: Header, changes: BlockChanges) -> None:
        """Undo the mirror to the fork point and replay the chain's branch (or reset)."""
        m = self.mirror
        fork = await self._fork_point(latest)
        if fork is None:
            await self._reset(changes)
            return
        if fork >= latest.number and self._kept_at(latest.number) != latest.hash:
            # a sibling of our block answered as the latest, which the chain, asked by number,
            # does not hold (a stale backend's, or a lie): nothing to undo (a rewind to our
            # block is undone to it). watch81: nothing undone, a reorg of 0 blocks counted,
            # and ``Reorg`` raised out of the poll (``failing``, with a traceback)
            raise Inconsistent(f"block {latest.number} {latest.hash} answered as the latest, "
                               f"and ours there when read again: read again")  # fmt: skip
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


__all__ = ["GROW_AFTER", "Follower"]
