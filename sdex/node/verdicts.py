"""The chain's state of orders, read and applied: the mirror's verdicts (the chain's, for what
it does not hold: ``_states_of``), applied to the orders in the book (``_apply_chain_state``),
and those whose own fills were in flight looked at again once settled (``_recheck_settled``).
Re-judging closed orders after a reorg, a reset or a cancel-up-to: ``sdex.node.rejudge``."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import aiohttp

from sdex.book import RemovalReason
from sdex.chain import OrderState
from sdex.errors import ChainError
from sdex.ingest import judge, removal_of
from sdex.ingest.verify import Eip1271Batcher
from sdex.model import OPEN_STATUSES, OrderStatus
from sdex.node.readlater import REFUSALS, NodeReadLater, why
from sdex.node.registry import Record
from sdex.node.reopening import chain_word_needed, judged_again, message
from sdex.order import SignedOrder

log = logging.getLogger("sdex.node")
RECHECK_READS = 1000
"""Orders due a recheck whose state the mirror lacks, read from the chain at a time."""
RECHECK_READ_WAIT = 5.0
"""Seconds such a read is waited for (a hung chain holds the results no longer: read again
with the next block or settlement)."""
START_READ_TRIES = 3
"""Tries of a start's read of the orders due a recheck (recheck81: one read past its wait on a
loaded machine left them all due, closed ``filled`` as the kill left them, till a block came:
an idle chain's may not)."""
START_READ_WITHIN = 10.0
"""Seconds a start's read of the orders due a recheck takes at most, its tries together
(recheck83: 5 + 10 + 15 s against a hung chain, 503 "starting" with no word of why). Past
it the start goes on, the orders left due (read with the blocks to come)."""
NO_STATES: Mapping[bytes, OrderState] = MappingProxyType({})
RECHECK_PART = 256
"""Orders due a recheck a start holds again, looks at for a read, or judges in one turn of the
loop (replay80: 50,000 a kill left due took turns of 0.4-0.5 s, the node answering nothing;
recheck81: 256 judged take ~35 ms)."""


class NodeVerdicts(NodeReadLater):
    """The chain's state of orders, read from the mirror and applied to the book's orders."""

    contract_sigs: Eip1271Batcher
    start_step: str | None = None
    """What a start waits for, when it is a chain read that may take long (``/health``'s
    "starting" answer says it: recheck83)."""

    async def _states_of(
        self, orders: list[SignedOrder], verify: set[bytes] | None = None
    ) -> dict[bytes, OrderState]:
        """The mirror's view of ``orders`` (a chain read only for accounts it does not hold
        yet, all in one call). Orders of EIP-1271 makers without a cached verdict, and those
        in ``verify``, are judged by the chain (one batch, ``Eip1271Batcher``)."""
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
        said = -1 if (doubt := self.mirror.doubt).held else doubt.said_count  # (doubt100: below)
        if contract:
            for so, st in zip(contract, await self.contract_sigs.get_many(contract), strict=True):
                if st.signature_valid and doubt.said_count == said:
                    self.mirror.learn(so, st, read_at)
                states[so.hash] = st
        if unknown:  # (not learned in a doubt, held or said meanwhile: maybe another chain's)
            for so, st in zip(unknown, await self.batcher.get_many(unknown), strict=True):
                if doubt.said_count == said:
                    self.mirror.learn(so, st, read_at)
                states[so.hash] = st
        return states

    def _filled_elsewhere(self, so: SignedOrder, filled: int) -> None:
        """The chain's filled amount differs from the book's (fills made elsewhere, or
        undone). If what is left is dust the book closes the order: so does its record."""
        self.registry.set_filled(so.hash, filled)
        st = self.book.get(so.hash)
        if st is None or st.closed is not None:
            rec = self.records[so.hash]
            self.registry.close(rec, OrderStatus.FILLED, "filled elsewhere", filled)

    def _filled_ahead(self, so: SignedOrder) -> None:
        """An order in the book that an own settlement filled in a block the mirror has not
        applied (``Mirror.ahead``): the mirror's word on it is older than the book's, yet a
        fill made elsewhere in a block the mirror applied is not in the book. It takes the
        mirror's filled amount plus the own fills ahead (their receipts decoded:
        ``Mirror.filled_ahead``) where that is more; nothing else (its funds, a verdict)
        until that block is applied. revert75 (chaos52 seed 19): another node's fill of an
        ask, one block below the node's own, stayed out of the book until the node's block
        was applied; a bid at the ask's limit matched meanwhile against the rest the book
        had, larger than the chain's, reverted ``PricesDoNotCross`` (the contract took the
        chain's rest, not whole units of the ask's price: its rounding broke the bid's
        limit)."""
        st = self.book.get(so.hash)
        if st is None or st.closed is not None or st.pending:
            return
        state = self.mirror.state(so)
        ahead = self.mirror.filled_ahead(so.hash)
        if state is None or ahead is None:
            return
        filled = min(state.filled + ahead, so.order.maker_amount)
        if filled > st.filled:
            self._filled_elsewhere(so, filled)

    def _apply_chain_state(self, so: SignedOrder, state: OrderState) -> None:
        """An order in the book takes the chain's state: its maker's funds, its filled amount
        (fills made elsewhere), or its removal (filled, cancelled, expired, unfunded...)."""
        o = so.order
        funds = min(state.maker_balance, state.maker_allowance)
        self._mirror_funds(o.maker, o.maker_token, funds)
        st = self.book.get(so.hash)
        verdict = judge(so, state)
        reason = removal_of(verdict)
        if st is None or st.pending:  # in flight: looked at again once the settler is done
            if st is not None:
                self._recheck.add(so.hash)
            if st is not None and st.closed is None and reason is RemovalReason.CANCELLED:
                # for good, whatever lands of it: offered no more, its matches not yet signed
                # dropped (cancel65: signed, then reverted or skipped, gas paid for nothing)
                self.registry.remove(so.hash, reason, message(verdict))
            return
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
        # with the chain's filled amount: a block that fills it and cancels it (chaos60: the
        # book's, without that block's fill)
        self.registry.remove(so.hash, reason, message(verdict), state.filled)

    def _recheck_settled(
        self, read: Mapping[bytes, OrderState] = NO_STATES, only: Iterable[bytes] | None = None
    ) -> None:
        """Orders a block touched while their own fills were in flight: once none is, take
        the mirror's filled amount where it differs: ahead (a fill made elsewhere
        meanwhile, which the settlement's receipt does not show) or behind (a reorg undid
        a fill: its verdict, ``_rejudge``, was put off while the order was in flight;
        chaos60: the book kept the undone fill for good). One closed meanwhile (by its last
        match's confirm, or closed while in flight: ``_rejudge`` leaves those to the
        settler's outcome), the undone fill counted in or a fill made elsewhere left out, is
        judged again once the mirror has that match's block (``_undone_under``: chaos60,
        ``filled`` in full while the chain had it ``FILLABLE``; a FOK ``removed`` with more
        filled than the chain). One whose state the mirror lacks (a bitmap order whose nonce
        a fill touched; a maker's funds a reset cleared) takes the chain's, ``read`` by
        ``_read_rechecks``, and stays on the list till then (reorg62: it was dropped, and
        the undone fill kept for good). ``only``: those of them alone (a start's, a part
        at a time: ``_recheck_stored``). A list longer than ``RECHECK_PART``: its fresh
        ones now (``Rechecks.fresh``: added since a walk found them waiting), the others a
        part a turn of the loop (``_drain_rechecks``; recheck81: 49,000 a start's read made
        judgeable were judged in one turn of 2.2 s at its first block)."""
        due = self._recheck
        if only is not None:
            hashes = [h for h in only if h in due]
        elif len(due) <= RECHECK_PART or not _looping():
            hashes = list(due)
        else:
            hashes = list(itertools.islice(due.fresh, RECHECK_PART))
            self._drain_later(read)
        self._recheck_part(hashes, read)

    def _recheck_part(self, hashes: Iterable[bytes], read: Mapping[bytes, OrderState]) -> bool:
        """``_recheck_settled`` of ``hashes`` (due a recheck): whether one was judged."""
        ahead, _ = self.mirror.ahead()
        due, judged, knows = self._recheck, False, self.mirror.knows
        at = self.mirror.head.number if self.mirror.head is not None else -1
        for h in hashes:
            if h not in due:  # (judged since the part was taken)
                continue
            st = self.book.get(h)
            if st is not None and st.pending:
                continue
            if h in ahead:  # (its block judges it; till then, fills elsewhere the mirror has)
                if (rec := self.records.get(h)) is not None:
                    self._filled_ahead(rec.signed)
                continue
            rec, look = self.records.get(h), due.look(h)
            if rec is None and look is not None and h not in read and not knows(h, look):
                due.waits(h)  # (evicted, waiting still: not loaded back to find it so, recheck84)
                continue
            # (left63: looked up only now, and back from the store if evicted: a closed
            # one past its grace while its block was ahead kept the book's filled amount)
            if rec is None:
                try:
                    rec = self.registry.load(h)
                except REFUSALS as e:  # (due still: store96)
                    self._read_later({h: why(e)})
                    continue
            if rec is None:
                due.discard(h)
                judged = True  # (its row deleted at the flush: review98b, read back, left)
                continue
            state = self.mirror.state(rec.signed)
            if state is not None and self._read_past_mirror(h):
                continue  # (its close read the chain past the mirror: judged once there)
            if self._chain_word_needed(rec, st, state):
                state = read.get(h)  # (the chain's read: its signature checked, store98)
                if state is None:  # (no look kept: each walk loads it, the read too)
                    due.waits(h)
                    continue
            if state is None and (state := read.get(h)) is None:
                due.waits(h, rec.signed)  # (read with the next block or settlement)
                continue
            due.discard(h)
            self._judged_at(h, at if h not in read else self._word_block(None))
            judged = True
            if st is not None and st.closed is None:
                if state.filled != st.filled:
                    self._apply_chain_state(rec.signed, state)
            elif st is None and judged_again(rec.status, rec.filled, rec.signed, state):
                self._undone_under(rec.signed, state)
        return judged

    def _chain_word_needed(self, rec: Record, st: object, state: OrderState | None) -> bool:
        """Whether the recheck of ``rec``, out of the book (``st`` None), whom the mirror's
        ``state`` would judge again (maybe back into the book), takes the chain's read
        instead: its signature not its maker's ECDSA one (``reopening.chain_word_needed``:
        review98c's rule for a reorg's rejudge; store98, a recheck reopened a row whose
        signature was edited in the file, on the mirror's word)."""
        if st is not None or state is None:
            return False
        so = rec.signed
        return judged_again(rec.status, rec.filled, so, state) and chain_word_needed(so, self.book)

    _judged: OrderedDict[bytes, int] | None = None
    """Orders a recheck judged, each with the block its word was of, kept while the mirror
    can undo that block (its kept blocks): a reorg or a reset undoing it puts them back on
    the list (``_rechecks_undone``; recheck81: a part judged a turn before a reorg)."""

    def _judged_at(self, h: bytes, at: int) -> None:
        judged = self._judged
        if judged is None:
            judged = self._judged = OrderedDict()
        judged[h] = at
        judged.move_to_end(h)
        blocks = self.mirror.blocks
        low = blocks[0].header.number if blocks else at
        while judged and next(iter(judged.values())) < low:
            judged.popitem(last=False)

    def _rechecks_undone(self, fork: int) -> None:
        """Blocks above ``fork`` undone (a reorg; -1: a reset): the orders a recheck judged
        by their word due one again (their rows written again: a kill keeps them due)."""
        judged = self._judged
        if not judged:
            return
        again = [h for h, at in judged.items() if at > fork]
        for h in again:
            del judged[h]
        self._recheck.add_all(again)

    _draining: asyncio.Task[None] | None = None
    _drain_again = False
    _stopping = False  # (``Node.stop`` began: no drain started, doubt100)
    _drain_read: tuple[Mapping[bytes, OrderState], object] = (NO_STATES, None)
    """The chain's word on orders due a recheck (``_read_rechecks``) and the mirror's head
    it was read at: used while the mirror is still there."""
    _drained_at: object = object()  # (none began yet: no head is it)
    """The mirror's head when the last pass began."""
    _not_applying: asyncio.Event | None = None
    """Set while no block is being applied (``_applying``): the drain waits for it."""

    def _drain_later(self, read: Mapping[bytes, OrderState], anew: bool = False) -> None:
        """The orders due a recheck walked again, a part a turn of the loop, ``read``'s first
        (``_drain_rechecks``): one pass after the one under way (``anew``: whatever the head)."""
        head = self.mirror.head
        if read:
            kept, at = self._drain_read
            self._drain_read = ({**kept, **read} if at is head else dict(read), head)
        elif not (anew or len(self._recheck.fresh) > RECHECK_PART) and (
            head is self._drained_at or not self._recheck.backoff.walk()
        ):  # (nothing new since the last pass began: a settlement's, at the same head; or
            return  # the read of those waiting for the chain's word backs off: recheck83)
        self._drain_again = True
        if not self._stopping and (self._draining is None or self._draining.done()):
            self._draining = asyncio.ensure_future(self._drain_rechecks())
            self._draining.add_done_callback(_drain_ended)

    def _applying(self, now: bool) -> None:
        """A block's changes begin (``now``) or end being applied (``_on_block``; a reorg's
        or a reset's undo begins them): no recheck part is judged meanwhile."""
        gate = self._not_applying
        if gate is None:
            gate = self._not_applying = asyncio.Event()
        if now:
            gate.clear()
        else:
            gate.set()

    async def _drain_rechecks(self) -> None:
        """Passes over the orders due a recheck, ``RECHECK_PART`` judged a turn of the loop
        (none while a block is applied: its awaits leave the book between two blocks), what
        moved stored and published after each part, and crossings matched (an order
        reopened). Stays on the list: one waiting (for the chain's word, its settlement),
        looked at again by the next pass. recheck81: 49,000 a start's read made judgeable were
        judged in one turn of 2.2 s CPU at the first block, the node answering nothing."""
        while self._drain_again:
            self._drain_again = False
            self._drained_at = self.mirror.head
            read, at = self._drain_read
            first = [h for h in read if h in self._recheck] if at is self.mirror.head else []
            due = self._recheck  # (those waiting for the chain's word: with a read's try)
            rest = due if due.backoff.walked() else list(due.fresh)
            hashes = list(dict.fromkeys([*first, *rest]))  # (a copy a pass)
            for k in range(0, len(hashes), RECHECK_PART):
                await asyncio.sleep(0)
                if (gate := self._not_applying) is not None:
                    await gate.wait()
                read, at = self._drain_read
                if self._recheck_part(
                    hashes[k : k + RECHECK_PART], read if at is self.mirror.head else NO_STATES
                ):
                    self.registry.sync()
                    self._recheck.flush()
                    self._uncross()
        self._drain_read = (NO_STATES, None)

    async def _read_rechecks(
        self, tries: int = 1, within: float = math.inf
    ) -> Mapping[bytes, OrderState]:
        """The chain's state of the orders due a recheck (nothing of theirs in flight, no own
        receipt of theirs ahead of the mirror) that the mirror cannot judge, for
        ``_recheck_settled``: at most ``RECHECK_READS`` in one read, waited for at most
        ``RECHECK_READ_WAIT`` (``tries``: read again if it failed, each try waited for one
        ``RECHECK_READ_WAIT`` longer, all within ``within`` seconds). None if the mirror
        moved meanwhile (its block's apply reads them), or the read failed: they stay on the
        list, read with the next block or settlement. Those evicted from memory (closed,
        past their grace) are held again for it (recheck81: skipped, a bitmap order's
        recheck, which the mirror never judges, waited till some other look loaded it); not
        those whose look (``Rechecks.look``) the mirror judges now (recheck84: the walk loads
        them). A read failing each time backs off, its orders put behind the others
        (``Rechecks.backoff``, ``later``: recheck83)."""
        backoff = self._recheck.backoff
        if not backoff.due():  # (failing: this chance passes, ``ReadBackoff``)
            return NO_STATES
        ahead, _ = self.mirror.ahead()
        knows = self.mirror.knows
        due: list[SignedOrder] = []
        evicted: list[bytes] = []
        verify: set[bytes] = set()  # (their signatures judged by the chain: store98)
        for k, h in enumerate(list(self._recheck)):  # (a copy: the list moves at an await)
            if k and k % RECHECK_PART == 0:  # (a start's many: the loop runs between parts)
                await asyncio.sleep(0)
            st = self.book.get(h)
            if (st is not None and st.pending) or h in ahead:
                continue
            if (rec := self.records.get(h)) is None:
                look = self._recheck.look(h)  # (one the mirror judges now: not read)
                if len(evicted) < RECHECK_READS and (look is None or not knows(h, look)):
                    evicted.append(h)  # (back from the store below, if the read has room)
                continue
            if self._unjudged(rec, st, verify):
                due.append(rec.signed)
                if len(due) >= RECHECK_READS:
                    break
        if evicted and len(due) < RECHECK_READS:
            try:
                await self.registry.load_all(evicted, RECHECK_PART)
            except REFUSALS as e:  # (due still, others first: store96)
                self._read_later(dict.fromkeys(evicted, why(e)))
                self._recheck.later(evicted)
                evicted = []
            ahead, _ = self.mirror.ahead()
            for h in evicted:
                rec, st = self.records.get(h), self.book.get(h)
                if rec is None:  # (its row gone: the next walk loads it, takes it off)
                    self._recheck.unseen((h,))
                if rec is None or h not in self._recheck or h in ahead:
                    continue
                if st is not None and st.pending:
                    continue
                if self._unjudged(rec, st, verify):
                    due.append(rec.signed)
                    if len(due) >= RECHECK_READS:
                        break
        if not due:
            backoff.answered()  # (none waits for a read)
            return NO_STATES
        if (doubt := self.mirror.doubt).held:  # ("latest" maybe another chain's: doubt100)
            backoff.owed = True  # (read once it ends: ``recheck_idle``)
            return NO_STATES
        head, loop, said = self.mirror.head, asyncio.get_running_loop(), doubt.said_count
        end = loop.time() + within
        for k in range(1, tries + 1):  # (a start's: no block may come to read them again)
            if (wait := min(RECHECK_READ_WAIT * k, end - loop.time())) <= 0:
                break
            try:
                async with asyncio.timeout(wait):
                    states = await self._states_of(due, verify)
            except (ChainError, ValueError, OSError, TimeoutError, aiohttp.ClientError) as e:
                log.info("%d orders' rechecks read again later (try %d): %r", len(due), k, e)
                if tries > 1:  # (a start's: said while it waits)
                    self.start_step = f"{_READING % len(due)}: try {k} got no answer ({e!r})"
                continue
            backoff.answered(owed=doubt.said_count != said)  # (a doubt said meanwhile)
            return states if self.mirror.head is head and not backoff.owed else NO_STATES
        backoff.failed()
        self._recheck.later(so.hash for so in due)  # (others first next time)
        return NO_STATES

    def _unjudged(self, rec: Record, st: object, verify: set[bytes]) -> bool:
        """Whether ``_recheck_part`` cannot judge ``rec`` without a chain read: the mirror lacks
        its state, or its signature is to be checked (``_chain_word_needed``: in ``verify``)."""
        state = self.mirror.state(rec.signed)
        if self._chain_word_needed(rec, st, state):
            verify.add(rec.signed.hash)
            return True
        return state is None

    def _remined_stored(self, due: Iterable[bytes]) -> None:
        """``NodeRejudge._remined_stored``."""
        raise NotImplementedError

    def _undone_under(self, so: SignedOrder, state: OrderState) -> None:
        """A closed order whose filled amount is not the chain's: it counted a fill the chain
        no longer has, or it was closed at the book's amount while a match of it was in
        flight, short of fills made elsewhere (chaos62: closed ``cancelled`` or ``expired``
        by a failed match's diagnosis, it kept the book's amount for good). Judged again by
        the chain's word (``NodeRejudge._rejudge``: a close by this node's policy takes
        no fill made after it)."""
        raise NotImplementedError

    def _persist_open(self, read: Mapping[bytes, OrderState] = NO_STATES) -> None:
        """Orders whose own fills were in flight looked at again (``_recheck_settled``, with
        the chain's ``read`` states of those the mirror cannot judge), then the registry
        stores and publishes what moved (``OrderRegistry.sync``)."""
        self._recheck_settled(read)
        self.registry.sync()
        self._recheck.flush()  # (the rechecks done deleted after the rows they wrote)

    async def _recheck_stored(self) -> None:
        """At a start, once the blocks since the saved head are applied and the pooled
        settlements adopted: the orders a kill left due a recheck (their rows: ``Rechecks``)
        judged now, as the next block or settlement would have (recheck75: a closed one, not
        reloaded as the open ones are, kept the wrong filled amount for good)."""
        hashes = await self.store.rechecks(self._recheck.kept)  # (more: read as it drains)
        self._remined_stored(hashes)  # (fills mined again, put off: taken in at a block)
        await self.registry.load_all(hashes, RECHECK_PART)  # (closed: back; gone: dropped)
        self._recheck.restore(hashes)
        if not hashes:
            return
        log.info("%d orders due a recheck at the last stop: judged again", len(hashes))
        self.start_step = f"{_READING % len(hashes)}, at most {START_READ_WITHIN:g} s"
        try:
            read = await self._read_rechecks(START_READ_TRIES, START_READ_WITHIN)
        finally:
            self.start_step = None
        if self._recheck.backoff.failures:
            log.warning(
                "%s: not read in %g s; the start goes on, they stay due (read with the blocks"
                " to come)",
                _READING % len(hashes),
                START_READ_WITHIN,
            )
        for k in range(0, len(hashes), RECHECK_PART):  # (a part a turn, as ``_persist_open``)
            if k:
                await asyncio.sleep(0)
            self._recheck_settled(read, hashes[k : k + RECHECK_PART])
            self.registry.sync()  # (what moved: stored and published a part at a time)
        self._recheck.flush()


_READING = "reading the chain's word on %d orders due a recheck at the last stop"


def _looping() -> bool:
    """Whether an event loop runs here (a drain can be started)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _drain_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (e := task.exception()) is not None:
        log.error("rechecks' drain failed: the next block starts it again", exc_info=e)
