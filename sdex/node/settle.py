"""Settlement results: confirmed and failed matches back into the book, their fills stored
and published (``sdex.node.settlefills``), failed ones diagnosed. Settlements a previous run
left in flight: ``sdex.settlement.reconcile``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from sdex.book import Entry, RemovalReason, UnknownOrder
from sdex.book.errors import BookError
from sdex.chain import OrderState
from sdex.matching.match import Match
from sdex.model import OPEN_STATUSES, OrderStatus, closed_status
from sdex.node.diaghold import held_amounts, payer
from sdex.node.reload import NodeReload
from sdex.node.settleblame import HOSTILE_WHY
from sdex.node.settlefills import own_fills, publish_fill
from sdex.order import SignedOrder
from sdex.settlement import Outcome as SettleOutcome
from sdex.settlement import SettledMatch, diagnose
from sdex.settlement.adopt import counted_at_start
from sdex.settlement.blame import own_key, pair_refused
from sdex.store import StoredFill

log = logging.getLogger("sdex.node")
MAX_SETTLE_FAILURES = 3
"""Failed settlements an order may be part of with no guilty party found, before it goes."""
_FAILED_FILLED = "settlement failed: " + RemovalReason.FILLED.value


class NodeSettlement(NodeReload):
    """The settler's results applied: confirm, release, diagnose."""

    _reading: tuple[set[tuple[str, str]], ...] = ()
    """For each diagnosis whose chain read is under way, the accounts that paid a fill
    confirmed meanwhile (``_diagnose``)."""

    async def _on_settled(self, results: list[SettledMatch]) -> None:
        if results and (loaded := self._unread.get(results[0].tx_hash or "")) is not None:
            results = counted_at_start(results, loaded)  # (doubt80: not counted twice)
        self._undoom(results)
        failed: list[Match] = []
        unsent: list[Match] = []
        blameless: set[int] = set()  # (ids of failed matches that count against no order)
        txs: dict[int, str | None] = {}  # (each failed match's transaction; None: not sent)
        pinned: dict[int, int] = {}  # (a failed pre-flight's block: its evidence is read there)
        refused: dict[int, SignedOrder] = {}  # (ids of failed matches -> the order to blame)
        fills: list[StoredFill] = []
        short: list[Match] = []  # (settled for less than proposed: ``_settled_short``)
        debug = log.isEnabledFor(logging.DEBUG)
        self.registry.defer_writes()  # the orders these close: one write for all of them
        try:
            for r in results:
                m = r.match
                if r.outcome is SettleOutcome.SETTLED:
                    self._confirm(m, r)
                    if r.actual is not None and r.actual != m.amounts:
                        short.append(m)
                    fills.extend(own_fills(r.fills))
                    if debug:
                        log.debug(
                            "settled %s with %s in %s",
                            m.resting.hash_hex,
                            m.incoming.hash_hex,
                            r.fills[0].tx_hash if r.fills else "?",
                        )
                else:
                    log.info(  # rare, and each one is worth a line
                        "settlement of %s vs %s failed: %s",
                        m.resting.hash_hex,
                        m.incoming.hash_hex,
                        r.reason,
                    )
                    if r.unsent:  # never on chain: nothing to diagnose, no one's fault
                        unsent.append(m)
                    else:
                        failed.append(m)  # released by _diagnose, once the chain was read
                        txs[id(m)] = r.tx_hash
                        if r.block is not None:
                            pinned[id(m)] = r.block
                        if r.nonce_taken:
                            blameless.add(id(m))
                        if r.refused is not None and r.refused == m.resting.hash:
                            refused[id(m)] = m.resting
                        if pair_refused(r.reason):
                            self._note_refused(m)
            self._watcher_was_first(results)
        finally:
            self.registry.write_deferred()
        if failed:  # (before any await: the settler may take its next batch at the next one)
            self._hold_diagnosed(failed)
        # (read now, applied as it comes: the shortfall is offered meanwhile)
        read_short = asyncio.ensure_future(self._read_short(short)) if short else None
        if results:  # one line a settlement transaction, not one a match
            log.info(
                "settlement %s: %d matches settled, %d failed",
                results[0].tx_hash or "(not sent)",
                len(results) - len(failed) - len(unsent),
                len(failed) + len(unsent),
            )
        if unsent:  # never on chain, no one's fault, no fills: given back now, not after
            # another settlement's diagnosis (its chain read, under the lock; left50)
            for m in unsent:
                self._release(m)
            # first, the chain's word on an order a block touched while it was held (a fill
            # made elsewhere: review67, it stayed offered, its other side matched it again,
            # withdrawn again, 38,000 times in 30 s), then its other side matched again
            self._recheck_settled()
            self._keep_out_gone(unsent)  # (its block not applied: not matched again, loop80)
            self._rematch(self.live_sides(unsent))
            self.registry.sync()
        # The matches are confirmed (above, before any await: see ``Settler._fly``); what
        # follows waits for the store and the chain, one settlement's results at a time.
        tx = results[0].tx_hash if results else None
        early = self.settler.fills_stored.pop(tx, None) if tx is not None else None
        # The write, tracked before any await: the records above say "filled" already, and
        # a fills listing waits for it (``fills_listable``: read-your-writes).
        writing = asyncio.create_task(
            self._fills_written(early[1] if early is not None else None, fills)
        )
        self.track_fills(writing)
        try:
            async with self._results_lock:
                try:
                    new = await self._fills_durable(writing)
                    for f in new:  # durable, then told (the watcher may have published some first)
                        publish_fill(self.events, f)
                    if self.gossip is not None:
                        for tx in dict.fromkeys(f.tx_hash for f in fills):
                            self.gossip.notify("settlements", {"txHash": tx})
                finally:  # whatever the store says: the failed matches' orders are judged
                    if failed:
                        await self._diagnose(failed, blameless, txs, refused, pinned)
                    if read_short is not None:
                        await read_short
                    self._persist_open(await self._read_rechecks())
                    self._uncross()
        except asyncio.CancelledError:  # (the node stops)
            writing.cancel()
            if read_short is not None:
                read_short.cancel()
            raise
        finally:
            self._unhold_diagnosed(failed)  # (ended by ``_diagnose``, or on an error before it)

    def _confirm(self, m: Match, r: SettledMatch) -> None:
        for accounts in self._reading:
            accounts.update((payer(m.resting), payer(m.incoming)))
        self.registry.settled(m, r.actual)  # (other amounts than proposed: funds re-synced)
        actual = r.actual or m.amounts
        find = self.book.find  # (the book's live entries read: no state view built, settle27)
        before = {  # (filled, closed) before the confirm
            m.resting.hash: (_was(find(m.resting.hash)), actual.left_filled),
            m.incoming.hash: (_was(find(m.incoming.hash)), actual.right_filled),
        }
        try:  # as proposed (the usual case): the book's records of both, no lookup
            if len(sides := self._book_sides(m)) < 2:  # (the other's fill: the watcher's)
                for so in sides:
                    left = so is m.resting
                    amount = m.left_filled if left else m.right_filled
                    filled = actual.left_filled if left else actual.right_filled
                    self.book.confirm(so.hash, amount, filled)
            else:
                self.engine.confirm(m, None if r.actual == m.amounts else r.actual)
        except UnknownOrder as e:  # gone meanwhile (after a reorg, say): the other side
            log.warning("confirming a settled match: %s", e)  # was confirmed all the same
        except BookError:
            log.exception("confirming a settled match failed")
        if r.actual is not None and r.actual != m.amounts:
            self._settled_short(m)
        for so in self._book_sides(m):
            rec = self.records.get(so.hash)
            if rec is None:
                continue
            st = find(so.hash)
            if st is None:  # filled (in full, or all but dust) and forgotten by the book
                was, got = before[so.hash]
                full = rec.signed.order.maker_amount
                filled = full if was is None else min(full, was[0] + got)
                if rec.status in OPEN_STATUSES and _rest_dropped(was, filled, full):
                    # an IOC partly filled, its rest dropped at arrival: not ``filled``
                    # (review20: said so with remainingMakerAmount > 0)
                    why = f"{rec.tif.value}: partly filled; the unmatched rest was dropped"
                    self._close_record(rec, OrderStatus.REMOVED, why, filled)
                elif rec.status in OPEN_STATUSES:
                    self._close_record(rec, OrderStatus.FILLED, "filled", filled)
                else:  # closed here while in flight: the chain's filled counts, never lowered
                    self.registry.correct_filled(rec, max(rec.filled, filled))
            elif st.closed is not None and st.pending == 0 and rec.status in OPEN_STATUSES:
                self._book_closed(so.hash, st.closed)
            else:
                # A GTC order matched in full at arrival (so not announced) that the chain
                # filled in part (the other order was partly filled elsewhere first) rests
                # now. attack27: its rest rested on this node alone, shown to no peer.
                self._announce_if_resting(rec)

    def _watcher_was_first(self, results: list[SettledMatch]) -> None:
        """A settlement whose block the watcher applied before its receipt came here (it
        waits ``EXPECT_PATIENCE`` for the receipt, then reads the block itself; since
        settle95 its read of the block confirms the receipt): the funds it set then were
        after the fill, and the confirm took the fill off them again. The makers' funds are
        set once more from the mirror, which is past that block. Only once the book took
        that block's funds (``_funds_taken_at``): settle98, the mirror past the block while
        the watcher still re-read the accounts it moved (one read at "latest", ``unsure``)
        gave the maker the settled amount back until that poll's funds came. (At a start,
        the saved head the book was judged at: ``Unapplied.applied``.) Nor above a fork point
        a reorg undid the mirror to since (``Mirror.undone_to``): funds98, a settlement mined
        only on the new branch, below the old branch's taken head, had its makers' funds set
        to the old branch's figures the reorg's poll was still reading again (1 WETH paid)."""
        head = self.mirror.head
        if head is None:
            return
        top = min(head.number, max(self._funds_taken_at, self.watcher.unapplied.applied))
        if (fork := self.mirror.undone_to) is not None:
            top = min(top, fork)
        accounts: set[tuple[str, str]] = set()
        for r in results:
            if r.outcome is SettleOutcome.SETTLED and r.fills[0].block_number <= top:
                m = r.match
                tokens = (m.resting.order.maker_token, m.incoming.order.maker_token)
                accounts |= {(so.order.maker, t) for so in (m.resting, m.incoming) for t in tokens}
        self._accounts_from_mirror(accounts)

    def _release(self, m: Match) -> None:
        self.registry.settled(m)
        before = {so.hash: self.book.get(so.hash) for so in (m.resting, m.incoming)}
        try:  # (each side released on its own: ``Settling.release``)
            if len(sides := self._book_sides(m)) < 2:
                for so in sides:
                    self.book.release(so.hash, m.left_filled if so is m.resting else m.right_filled)
            else:
                self.engine.release(m)
        except UnknownOrder as e:  # filled or dropped meanwhile (after a reorg, say): said
            log.warning("releasing a failed match: %s", e)
        except BookError:
            log.exception("releasing a failed match")
        for so in (m.resting, m.incoming):
            rec = self.records.get(so.hash)
            if rec is None:
                continue
            was, now = before[so.hash], self.book.get(so.hash)
            if rec.status not in OPEN_STATUSES or was is None:
                continue
            if was.closed is None and (now is None or now.closed is not None):
                # what the release gave back is dust (fills made elsewhere meanwhile): the
                # book closed the order, and so does its record
                reason = RemovalReason.DUST if now is None or now.closed is None else now.closed
                self._book_closed(so.hash, reason, was.filled)
            elif was.closed is not None and (now is None or now.pending == 0):
                # closed while in flight (an IOC or FOK taker: its rest dropped at arrival),
                # its last fill in flight failed: nothing of it is left to settle. review19:
                # its record stayed open (remainingFillable 0) until it expired
                why = was.closed.value
                if was.closed is RemovalReason.UNMATCHED:
                    why = f"{rec.tif.value}: dropped after its match failed to settle"
                filled_all = was.filled == rec.signed.order.maker_amount
                self._close_record(rec, closed_status(was.closed, filled_all), why, was.filled)
            else:  # a GTC order matched in full may rest now
                self._announce_if_resting(rec)

    async def _diagnose(
        self,
        failed: list[Match],
        blameless: AbstractSet[int] = frozenset(),
        txs: Mapping[int, str | None] | None = None,
        refused: Mapping[int, SignedOrder] | None = None,
        pinned: Mapping[int, int] | None = None,
    ) -> None:
        """Read both orders of each failed match from the chain; drop or shrink the guilty.
        A failure with no guilty order is judged on what its settlement ran against
        (``_judge_unexplained``), unless the match's ``id`` is in ``blameless`` (lost to the
        node's own trouble: its nonce taken); ``txs``: each match's transaction by ``id``
        (None or absent: never sent, its pre-flight reverted); ``refused``: the resting
        order whose signature the pre-flight's own check refused (``InvalidSignature``;
        checked first, before any code of the other order ran: review33), blamed alone;
        ``pinned``: the block a failed pre-flight ran at, by ``id`` (its evidence read there).

        The makers' funds read (at "latest") are the book's only for an account with no
        other fill of it in flight from before the read to now (and none of its fills
        confirmed meanwhile): a settlement of it mined but not confirmed yet is in that
        read, and its confirm takes its fill off again (one mined after the read and
        confirmed before now would be given back). Such an account keeps the book's funds,
        which the watcher's blocks keep right (``_accounts_from_mirror``). What the settler's
        queued matches hold, never signed, is in no read. The queued matches of ``failed``'s
        orders are held back until this ends (``sdex.node.diaghold``)."""
        orders = [so for m in failed for so in (m.resting, m.incoming)]
        held = held_amounts(failed)  # what these failed matches hold themselves
        reserved = self.book.reserved
        queued = held_amounts(self.settler.unsigned())  # (never signed: in no chain read)
        busy = {a for a, amount in held.items() if reserved(*a) > amount + queued.get(a, 0)}
        confirmed: set[tuple[str, str]] = set()
        self._reading = (*self._reading, confirmed)
        try:
            states, evidence, at = await self._read_judged(
                failed, orders, blameless, txs or {}, pinned or {}
            )
        finally:
            # Released only now, with the verdicts next and no await between: released
            # before the read, an uncross meanwhile could match the guilty order again.
            for m in failed:
                self._release(m)
            self._reading = tuple(r for r in self._reading if r is not confirmed)
        busy |= confirmed  # (mined before the read or after it: unknown)
        # (these released; what queued matches hold, those held back for this read among
        # them, is in no chain read: chaos66, else the maker found short kept her funds)
        queued = held_amounts(self.settler.unsigned())
        busy |= {a for a in held if reserved(*a) > queued.get(a, 0)}  # (others' fills)
        if not states:
            self._unhold_diagnosed(failed)
            return
        by_hash: dict[bytes, OrderState] = {s.hash: s for s in states}
        rematch: list[bytes] = []
        guilty: set[bytes] = set()
        for m in failed:
            verdicts = diagnose(m, by_hash[m.resting.hash], by_hash[m.incoming.hash])
            guilty_found = False
            for so, v in zip((m.resting, m.incoming), verdicts, strict=True):
                if payer(so) not in busy:  # (read at ``at``: no older word undoes it)
                    self._funds_read(so.order.maker, so.order.maker_token, v.spendable, at)
                in_book = self.book.get(so.hash)
                if v.remove is RemovalReason.FILLED and in_book is not None and not in_book.pending:
                    # closed with the chain's filled amount, as the watcher closes it (attack29:
                    # "filled" with 0 filled, and a fill event for it later changed nothing);
                    # with another match of it in flight, closed keeping what that holds
                    # (``_closed_by_chain``), for its release (resume71: ``set_filled`` let
                    # it go; released later, against the order back in the book after a reset,
                    # it took another match's, or failed: "cannot release")
                    filled = min(v.filled, so.order.maker_amount)
                    self._closed_past(so.hash, at)  # (the chain's word at ``at``: revert78)
                    self.registry.set_filled(so.hash, filled)
                    rec = self.records.get(so.hash)
                    if rec is not None and rec.status in OPEN_STATUSES:
                        self._close_record(rec, OrderStatus.FILLED, _FAILED_FILLED, filled)
                elif v.remove is not None:
                    self._closed_by_chain(so, v.remove, v.filled, at)
                elif so.hash in self.book:
                    self._filled_beyond(m, so, v.filled, at)
                guilty_found |= v.guilty
                if v.guilty:
                    guilty.add(so.hash)
            unexplained = not guilty_found and id(m) not in blameless
            named = refused.get(id(m)) if refused else None
            blamed = self._judge_unexplained(m, evidence.get(id(m)), named) if unexplained else ()
            for so, v in zip((m.resting, m.incoming), verdicts, strict=True):
                rec = self.records.get(so.hash)
                if rec is None or v.remove is not None:
                    continue
                if unexplained and (not blamed or so in blamed):
                    rec.failures += 1  # (suspect from now on: pre-flighted, sent alone)
                    hostile = bool(blamed) and self.blamed_makers.hostile(so.order.maker)
                    if blamed and (rec.failures >= MAX_SETTLE_FAILURES or hostile):
                        why = "settlement kept failing" + HOSTILE_WHY * hostile
                        self._remove(so.hash, RemovalReason.REMOVED, why)
                        continue
                if not v.guilty:
                    rematch.append(so.hash)
        self._unhold_diagnosed(failed, guilty)  # (before the rematch: its matches not doomed)
        self._rematch(rematch)

    def _suspect(self, m: Match) -> bool:
        """Whether an order of ``m`` failed a settlement before with no one found guilty, or
        is a contract maker's (EIP-1271: its verdict may depend on what no read sees, such as
        the gas left; attack30): pre-flighted, with the transaction's gas, before it is sent.
        A contract maker is any order not signed by its maker's own key: the mirror tracks
        only ``MAX_MAKERS`` of them, and a wallet may sign with 65 bytes too (review32: a
        forgotten one's match was batched, and a wallet burning its gas sank the batch)."""
        sigs, makers = self.mirror.sigs, self._blamed_makers
        for so in (m.resting, m.incoming):
            rec = self.records.get(so.hash)
            if rec is not None and rec.failures:
                return True
            if sigs.tracks(so.order.maker) or not own_key(so):
                return True
            if makers is not None and makers.hostile(so.order.maker):
                return True  # (an EOA blamed before: its new orders too)
        return False

    def _rematch(self, hashes: list[bytes]) -> None:
        """Match the open, resting orders of ``hashes`` again (given back by a settlement)."""
        now, by = self.times()
        for h in dict.fromkeys(hashes):
            st = self.book.get(h)
            if st is None or st.closed is not None or not st.resting:
                continue
            self._after_match(
                self.engine.rematch(
                    h, now=now, may_match=self.may_match, older_only=False, match_by=by
                )
            )


def _was(e: Entry | None) -> tuple[int, RemovalReason | None] | None:
    """An order's (filled, closed) in the book, None if the book does not hold it."""
    return None if e is None else (e.filled, e.closed)


def _rest_dropped(was: tuple[int, RemovalReason | None] | None, filled: int, full: int) -> bool:
    """Whether an order the book forgot at its last confirm had its unmatched rest dropped
    (an IOC's, at arrival) with some of it left unfilled: closed ``removed``, not ``filled``
    (a rest the book closed as dust is ``filled``: nothing tradeable was left). ``was``: its
    (filled, closed) before that confirm."""
    return was is not None and was[1] is RemovalReason.UNMATCHED and filled < full
