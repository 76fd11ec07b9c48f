"""Follows the chain block by block into the mirror, and reports what changed to the node.

Per poll: the latest block; when new, the headers since our head and the range's logs
(Exchange events, listed tokens' ``Transfer``/``Approval``) in one JSON-RPC batch. While
own settlements are about, headers come first and only blocks holding other transactions
have their logs read (the settler's receipts carry ours). Reading them into the mirror, and
a reorg or a reset found there, is ``sdex.watch.follow``'s.

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
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc
from sdex.chain.rpc import quantity
from sdex.errors import ChainError
from sdex.hashfilter import HashFilter, capacity_for
from sdex.mirror import Account, Header, Mirror
from sdex.mirror.doubt import AGREE
from sdex.store import ChainIdentity, Store
from sdex.watch.blocks import ZERO_HASH, Inconsistent, Reorg, own_alone, receipt_coming, unannounced
from sdex.watch.changes import ApplyCallback, BlockChanges, ChainReset, durable
from sdex.watch.clocklead import ClockLead
from sdex.watch.falsefills import false_fills, late_fills
from sdex.watch.feed import borne_out
from sdex.watch.follow import Follower
from sdex.watch.fork import check_head, describe, head_number, ours_again, still_ours
from sdex.watch.funds import FUNDS_TRIES, read_funds, refresh_funds
from sdex.watch.loop import log
from sdex.watch.own import OwnBelow
from sdex.watch.saved import load_saved
from sdex.watch.savedblocks import load_blocks, restore, unsaved
from sdex.watch.unapplied import TOLD_FAR

T = TypeVar("T")

CATCH_UP_BLOCKS = 10_000
"""At start, the most blocks the chain may be past the saved head for the stored orders to be
judged from the saved mirror, the watcher catching up before the node is ready (``resumed``);
further behind, they are read from the chain and the watcher catches up meanwhile."""
TOLD_AGAIN = 5.0
"""Seconds after reads that did not prove the chain's head below ``Unapplied.told`` (one at
or above it, or no answer: a backend really ahead of the polls') before it is tried again
(``Watcher._proven_below``): ``AGREE`` requests each time at most."""
MAX_UNAPPLIED_FILLS = 100_000
"""Fills the node failed to apply (or store) held at most: past that the watcher reads no
further block until they are applied (memory bounded; nothing dropped)."""


class Watcher(Follower):
    """What one poll does (``poll_once``): new blocks into the mirror, reorgs and resets
    undone (``Follower``), false fills deleted, the node told, the mirror saved with its
    head."""

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
        super().__init__(
            rpc,
            mirror,
            store,
            identity,
            start_block,
            wanted,
            poll_interval,
            max_range,
            subscribe,
            undoing,
        )
        self.apply = apply
        self.latest_timestamp = 0
        self.lead = ClockLead()
        """Seconds the chain's clock runs ahead of ours, as its recent blocks showed on arrival
        (a reorg or reset sets it again): the node judges expiry by it (``NodeState.now``)."""
        self.applied: Header | None = None
        """The last block whose changes the node has applied and the store has saved."""
        self.resumed = False
        """The saved mirror is loaded and its head is on the chain (``check_head``): it holds
        the chain's state at that head (orders may be judged from it at start)."""
        self._awaited: frozenset[str] = frozenset()
        """Blocks of our receipts left for their announcement (``unannounced``, once each)."""
        self._own_below = OwnBelow(lambda: self.undoing())  # (gone: called at once, own76)
        """Own receipts above the chain's head, since when (``sdex.watch.own``)."""
        self._blocks_saved: dict[int, str] = {}
        """The kept blocks saved with the head (number -> hash: ``sdex.watch.savedblocks``)."""
        self._told_again = 0.0  # (monotonic: when ``told`` may be proven again, ``_proven_below``)
        self._proof: asyncio.Task[None] | None = None  # (``_prove``'s, one at a time)
        self._agreed = (-1, 0)
        """The replaced mark (``Unapplied.replacing``) and the polls in a row, the last one
        included, that read it as ours (``_unreplaced``): cleared at ``AGREE``."""
        mirror.on_receipt = self._receipt_came  # a receipt the watcher may be waiting for
        self.unapplied.own = self._own_block  # (those hold no signature back)
        mirror.marks.lookup = store.mirror_order_now  # evicted marks: their committed rows
        self._load()

    # -- state ------------------------------------------------------------------------------

    def _load(self) -> None:
        """Resume from the saved mirror (``sdex.watch.saved.load_saved``; its head is
        re-checked against the chain), its kept blocks too (a reorg while the node was down
        undone from them: ``sdex.watch.savedblocks``)."""
        if (head := load_saved(self.store, self.mirror)) is not None:
            self.checkpoint = self.saved = head.number
            self.latest_timestamp = head.timestamp
            kept = load_blocks(self.store.saved_blocks(self.mirror.depth), head)
            restore(self.mirror, kept)
            self._blocks_saved = {b.header.number: b.header.hash for b in kept}

    def _own_block(self, number: int) -> bool:
        """Whether block ``number``, announced, holds our settlement alone, its receipt here."""
        h = self.feed.header_at(number)  # (not a stale announcement: sign79)
        return h is not None and own_alone(self.mirror, h) is not None

    # -- the loop -----------------------------------------------------------------------------

    def _holding(self) -> bool:
        return self._unapplied is not None

    def _proving(self) -> bool:
        return self._agreed[1] > 0

    async def poll_once(self) -> bool:
        """Apply what is new; False when there was nothing. The latest block is the one a
        newHeads notification brought since the last poll, else asked for."""
        latest, self._notified = self._notified, None
        agreed, self._agreed = self._agreed, (-1, 0)  # (in a row: this poll's, or none)
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
            m.announced.read(latest.number, latest.base_fee, latest=True)  # (the settler's)
        self.chain_head = latest.number
        self._saw_latest(latest, asked)
        self._prove(latest.number, asked)  # (a lagging backend? a lie told? the poll goes on)
        gone = self._own_below.gone(m, latest, self.identity)  # (a devnet rewound below them)
        same = m.head is not None and latest.hash == m.head.hash
        stale = not m.doubt.held and any(map(self.wanted, m.reread_next))  # (below: doubt102)
        if same and self._unapplied is None and not gone and not m.own.late and not stale:
            # (``stale``: read again at our head, review100b; not in a doubt: by our head's
            # number, maybe from another chain's endpoint, stored as exact: the proof first)
            if m.doubt.why:  # (our head alone is no evidence: doubt78; apart: watch84)
                deployed = (self.start_block, self.identity.deploy_block_hash)
                self.proved = await self._apart(lambda rpc: ours_again(rpc, m, deployed))
            if m.head is not None:  # (a flap's mark: ours after all?)
                await self._unreplaced(m.head, agreed)
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
        was = {} if changes.reset else self._blocks_saved  # (a reset deleted the rows)
        rows, low, kept = unsaved(m, head, was)  # (the kept blocks: a restart undoes them)
        try:
            floor = m.announced.floor_at(head.number)  # (a restart's first bound: fee93)
            save = self.store.save_mirror(
                saved, orders, makers, funds, cps, bms, self._unsure, (rows, low), floor
            )
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
        self._blocks_saved = kept
        self.latest_timestamp = head.timestamp
        self.lead.saw(head.number, head.timestamp)
        self.applied = head
        self.saved = head.number
        m.marks.evict(m.dirty_orders)  # saved: out of the window, they leave memory
        if m.marks.full:
            await self._grow_marks()
        return True

    async def _unreplaced(self, head: Header, agreed: tuple[int, int]) -> None:
        """(A poll that found our ``head`` unchanged, the chain's latest) A block a poll's
        answer said replaced (``Unapplied.replacing``: another block at or below our head,
        or a head on another parent) read again, a request of its own: ours in ``AGREE``
        polls in a row (``agreed``: the polls before this one; any other poll between, or
        a failed one, counts from none again), the mark was a flap's (a backend on a stale
        sibling), the book is at our head (``ours_again``); another, no answer or an error,
        the mark stands (a real reorg held: by its apply, or ``BOUND``). watch80: this poll
        returned with the mark left, signing held ``BOUND`` and ``/health`` saying a
        let-go and the block unapplied till the next. watch82 (review81): one poll cleared
        it, so a balancer's stale backend that answered both its reads (the latest: our old
        head; the marked block: ours) had the node sign on the replaced branch's book a poll
        after the reorg was seen; now the next poll comes at once (``PollLoop._proving``)."""
        u = self.unapplied
        mark = u.replacing
        if u.applied >= head.number:
            return
        if mark is None:  # (a start on the saved head, the chain's still: the book is at it)
            u.caught_up(head.number)  # (watch80: held ``BOUND`` after each idle restart)
            return
        ours = head.hash if mark == head.number else self._kept_at(mark)
        if ours is None or not await self._apart(lambda rpc: still_ours(rpc, mark, ours)):
            return
        polls = agreed[1] + 1 if agreed[0] == mark else 1
        if polls < AGREE:
            self._agreed = (mark, polls)
            return
        log.info("block %d is ours after all (%d polls found our head): not held", mark, polls)
        u.ours_again(head.number)

    def _prove(self, latest: int, asked: bool) -> None:
        """(A poll's latest block, ``latest``; ``asked``: its own answer, not an
        announcement) The chain's head proven below what the start or the chain's word
        said, a task of its own (``_proven_below``; one at a time, ended by ``run``'s end),
        the poll going on: asked, below the head a start read (``Unapplied.start_gap``);
        else more than ``TOLD_FAR`` below the highest head the chain's word told
        (``Unapplied.told``), ``TOLD_AGAIN`` seconds after a proof that failed. review88:
        awaited in the poll, reads apart left unanswered (a backend that takes new
        connections and answers none) stopped the watcher for their bound (``stall``) at
        each try: every block announced meanwhile known and not applied, signing held, for
        as long as a phantom ``told`` stood."""
        if self._proof is not None and not self._proof.done():
            return
        u = self.unapplied
        if (gap := u.start_gap) is not None:
            if not asked or latest >= gap:
                return
        elif u.told <= latest + TOLD_FAR or time.monotonic() < self._told_again:
            return
        proof = self._proven_below(latest, u.told if gap is None else gap)
        self._proof = asyncio.create_task(proof, name="head proof")

    async def _proven_below(self, latest: int, above: int) -> None:
        """The chain's head read again (``_below``) to prove it below ``above``, the start's
        gap or ``told`` (``_prove``): each read below it, the gap lowered to the highest
        head read (``Unapplied.back_at_start``: the chain went back since, or the start's
        read was wrong), else ``told`` (``Unapplied.told_back``), the blocks known above it
        from before the reads dropped; the chain's head as the polls last had it known
        again (one announced during the reads, not above the known ones: known on its own
        now). A higher word of the chain meanwhile (``told`` raised, the gap moved) leaves
        the proof to the next poll; a ``told`` not proven is tried again after
        ``TOLD_AGAIN`` seconds; an error is logged. review86a: a lagging backend's one
        answer (the saved head) ended the start's hold, and the node signed on the saved
        head's book, the chain past it. watch87: a send's ask answered once far above the
        chain raised ``told`` for good (every announcement late, each send asking the
        head), and with announcements taken for the latest its blocks stayed known: past
        ``BOUND`` they held nothing, nor did the real blocks announced below them."""
        u = self.unapplied
        gap, told, began = u.start_gap, u.told, time.monotonic()
        try:
            head = await self._below(latest, above)
        except Exception as e:  # (a defect: said; the proof tried again, as one failed)
            log.warning("the chain's head not read again: %s", describe(e))
            head = None
        if head is None:
            self._told_again = time.monotonic() + TOLD_AGAIN
            return
        if u.told > told or u.start_gap != gap:
            return
        if gap is not None:
            log.info("the chain's head is block %d, below block %d a start read: not "
                     "held for it", head, gap)  # fmt: skip
            u.back_at_start(head, began)
        else:
            log.info("the chain's head is block %d, below block %d it was said to be", head, told)
            u.told_back(head, began)
        u.saw(self.chain_head, feed=True)  # (review88: the poll took the announcement)

    async def end_proof(self) -> None:
        """The proof under way, if any, cancelled and waited for (a cancel of the caller's
        own goes on): at ``run``'s end, or a start that failed after its catch-up began one
        (``sdex.node.core.Node.load``; fee90: left running, its reads held for ``stall``)."""
        if (proof := self._proof) is not None:
            self._proof = None
            proof.cancel()
            await asyncio.wait([proof])

    async def run(self) -> None:
        """``PollLoop.run``; the head's proof under way ended with it (``_prove``)."""
        try:
            await super().run()
        finally:
            await self.end_proof()

    async def _below(self, latest: int, above: int) -> int | None:
        """The chain's head read ``AGREE`` times, each a request on a connection of its own
        (``_apart``): each below ``above``, the highest of them and ``latest`` (a poll's
        answer); one at or above it, or no answer, proves nothing (None)."""
        heads = [latest]
        for _ in range(AGREE):
            said = await self._apart(head_number)
            if said is None or said >= above:
                return None
            heads.append(said)
        return max(heads)

    async def _apart(self, read: Callable[[AsyncRpc], Awaitable[T]]) -> T:
        """``read`` (whether a block read again is ours: a reorg mark's, ``still_ours``; a
        doubt's, ``ours_again``; the chain's head below a start's gap, ``head_number``:
        ``_below``) on a connection of its own (``sdex.chain.apart``): review82b, the polls'
        kept-alive connections, which a sticky balancer pins to one backend, had a stale one
        answer every read of ``AGREE`` polls, a reorg's mark cleared; watch84, a doubt lifted
        so too. Bounded by ``stall`` (no answer proves nothing); its calls counted with the
        watcher's. A balancer that pins the node's address (not its connections) to one
        backend answers these from the polls' backend: nothing in the answers tells (README,
        "Known limits"; watch89)."""
        return await apart(self.rpc, read, self.stall)

    async def _grow_marks(self) -> None:
        """The mirror's filter of evicted marks, rebuilt twice as large from the store (its
        walk off the event loop; nothing is evicted meanwhile: only ``poll`` evicts)."""
        marks = self.mirror.marks
        bigger = HashFilter(capacity_for(marks.evicted.count))
        await self.store.each_mark(bigger.add)
        marks.refilter(bigger)

    async def check_head(self) -> None:
        """At start: is the saved head still on the chain? (``sdex.watch.fork.check_head``)
        One proven replaced, its saved blocks undone by the first poll: known and not
        applied till then (``Unapplied.replaced``), signing held till the unwind is applied,
        with no bound (``Unapplied.unwinding``). watch82: a catch-up poll that failed left
        nothing known, and the node matched and signed on the replaced head's book till a
        poll got through; review82b: past ``BOUND`` it did so again. The chain's head as
        read here is known too (``Unapplied.saw``: the book at the saved head, the blocks
        since held as a running watcher's, once the node is ready: ``Unapplied.from_now``;
        review82b: a start whose first catch-up failed held nothing)."""
        problem, gone = await check_head(self.rpc, self.mirror)
        if problem is not None:
            self._set_status("unreachable", problem)
        h = self.mirror.head
        if gone and h is not None:  # (the book is at it, the chain's another: a reorg)
            self.unapplied.caught_up(h.number)
            self.unapplied.replaced(h.number, proven=True)
        self.resumed = h is not None and problem is None and h.hash != ZERO_HASH
        if self.resumed and h is not None:  # (far behind: judged by the chain, as before)
            try:
                latest = quantity(await self.rpc.call("eth_blockNumber"))
            except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError):
                latest = h.number + CATCH_UP_BLOCKS + 1
            else:
                if not gone:  # (the orders judged from the saved mirror: at its head)
                    self.unapplied.caught_up(h.number)
                    self.unapplied.behind_at_start(latest)  # (held till applied: watch84)
                else:
                    self.unapplied.saw(latest)
            self.resumed = latest - h.number <= CATCH_UP_BLOCKS

    def _fail(self, status: str, problem: str, backoff: float) -> float:
        """A failed poll (``PollLoop._fail``); while the start's replaced head is not undone
        (``Unapplied.unwinding``) the problem says the book is as at it (review82b: only
        signing was held, the API's answers those of the replaced head, unsaid)."""
        if (n := self.unapplied.unwinding) is not None:
            problem += (f"; the saved head {n} was replaced on the chain while the node was "
                        f"down: orders and the book are as at it till it is undone, and no "
                        f"settlement is signed meanwhile")  # fmt: skip
        elif (top := self.unapplied.start_gap) is not None:
            problem += (f"; the node started at block {self.unapplied.applied}, behind the "
                        f"chain's block {top}: orders and the book are as at it till the "
                        f"blocks since are applied, and no settlement is signed "
                        f"meanwhile")  # fmt: skip
        return super()._fail(status, problem, backoff)

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
        """Re-read the touched accounts someone needs at the mirror's head block; and those
        ``Mirror.reread_next`` holds still (no block applied since: review100b, on an idle
        chain a read the old branch served, or one a block since made stale, stood for good)."""
        if (head := self.mirror.head) is not None:
            if again := {a for a in self.mirror.reread_next if self.wanted(a)}:
                self.mirror.reread_next -= again  # (the others: with the next block, if wanted)
                changes.reread |= again
                changes.funds |= again
            reread, unsure = changes.reread, self._unsure
            read = await refresh_funds(self.rpc, self.mirror, reread, unsure, self.wanted, head)
            # (review97f: one not read is the mirror's older figure, kept from the book; one
            # read again after a poll that failed it, given to the book at last)
            changes.funds = (changes.funds - read.failed.keys()) | read.funds.keys()


__all__ = ["FUNDS_TRIES", "BlockChanges", "ChainReset", "Watcher", "read_funds"]
