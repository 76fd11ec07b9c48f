"""The settler's nonce lane (``sdex.settlement.settler``), after its signing and broadcasts
(``sdex.settlement.signing``): each transaction's receipt awaited (none: its nonce was
taken by another, the transaction is lost; until then its bytes are sent again, and past a
bound it is cancelled at its nonce), one the chain keeps in its pool without mining it signed
again at higher fees (``sdex.settlement.replace``), or, pooled behind a gap in the lane's
nonces, the gap filled;
the nonce of a lost one that later transactions wait on filled by a transfer of nothing
(``sdex.settlement.gap``), and the node's own settlement transactions forgotten once final."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from sdex.chain import Receipt, SignedTx
from sdex.chain.aio import ChainThread
from sdex.chain.asend import ChainView
from sdex.chain.tx import already_known, nonce_refusal
from sdex.errors import RpcError
from sdex.mirror import Mirror
from sdex.settlement.cancelling import CancellingLane
from sdex.settlement.confirm import Tally, confirmed_seen
from sdex.settlement.gap import USED, fill, lost_to_fill, missing_below, unheld_below
from sdex.settlement.receipts import RECEIPT_TIMEOUT, BlockReceipts, poll_receipt
from sdex.settlement.replace import Pooled
from sdex.settlement.rowcall import SETTLES_NONE
from sdex.settlement.rowtally import kept_tally
from sdex.settlement.signing import HELD_SEND_MAX, NOT_ITS_CHAIN, Unsendable
from sdex.settlement.stages import FlightTimes
from sdex.store import Store

log = logging.getLogger("sdex.settlement")


class NonceLane(CancellingLane):
    """The receipts and gap filling of ``Settler`` (which builds these parts), after the
    replacements of ``sdex.settlement.replacing`` and the cancels of
    ``sdex.settlement.cancelling``."""

    chain: ChainThread
    mirror: Mirror | None
    given_up: set[str]
    """Of ``ours``, those counted lost (``give_up``), and those a previous run left in flight
    (``reconcile``): landed after all, or before the restart's orders were judged from a
    mirror below their block, their fills count in the orders closed meanwhile
    (``NodeChainState._on_block``)."""
    kept: set[str]
    """Settlements refused "nonce too high" at every try, or at a restart (behind a
    balancer, a backend that lags the one that took them): a restart adopts such a row
    (``sdex.settlement.reconcile``). Like every settlement, awaited until their nonce is
    taken (``_receipt``; reconcile77, lost78)."""
    withheld: dict[str, str]
    """Of the settlements awaited, those never sent (again), cancelled at their nonce
    instead, and why ("not sent (...)": ``BatchTx._withheld``; "not sent again (...)":
    ``_keep_alive``)."""
    rejudged: frozenset[str] = frozenset()
    """Of the settlements awaited, those a start replaced by a transfer of nothing (in
    ``cancels``: ``unsettled.replace_pooled``), left to land, or could not judge (their call
    not answered: ``unsettled.unsettleable``, settle93), adopted all the same: judged again
    before any send of their bytes (``_keep_alive``, ``_replace``: their own call at the
    latest block),
    sent only if they would settle now, else their transfer (settle84: their bytes went
    again once the transfer left the pool, or signed again at higher fees: paid reverts)."""
    withheld_cancels = 0
    """Settlements in ``withheld`` whose nonce was then taken without them (by their cancel:
    ``BatchTx._landing``; a start's row that ``unsettled.replace_pooled`` replaced, given up
    by the start: ``give_up``): /health's ``settlementsWithheldCancelled`` (settle80: counted
    nowhere; ``BatchTx.given_back``, those whose nonce was given back; settle83: counted at
    the cancel's send, also those that landed after all)."""
    stale: dict[str, str]
    """Of the settlements awaited, those whose checks a doubt held past ``HELD_SEND_MAX``,
    and for how long (``_resumed``): their bytes never sent again, their cancel instead."""
    unsent_at: dict[str, float]
    """Rows a start left unsent while the chain's identity was in doubt, adopted, and since
    when (``time.time()``; ``sdex.settlement.reconcile``): that hold counts toward
    ``HELD_SEND_MAX`` once their wait starts (``_held_before``)."""
    replaced_rows: dict[str, list[SignedTx]]
    """Rows a start in a doubt found signed at a nonce before the latest row there (which it
    adopts unread: ``sdex.settlement.reconcile``), by that row, oldest first: awaited with
    it, any of them may be the one that lands (``_receipt``; doubt81: given up unread, one
    that had landed ended ``dropped``, the adopted one counted lost)."""
    unsendables: dict[str, Unsendable]
    """Of the settlements awaited, why each must not be sent (``BatchTx``'s, asked right
    before its first send): asked again before ``_over_gap``'s resend."""
    superseded: set[str]
    """Settlements in flight at a nonce the lane signed a later one at (``BatchTx``): that one
    holds it, their waits send nothing more (``_keep_alive``)."""
    blocks: BlockReceipts | None
    gap_fills: int
    store: Store
    in_flight: set[str]
    settled = 0
    """Matches settled on chain (/health's ``matchesSettled``): those of the settler's results
    (``Settler._report``; a start's row adopted unread too, ``counted_at_start``), and of a
    start's rows found landed (``sdex.settlement.rowreceipt.record_landed``). Each once, by
    the run that saw it land (settle83: a start's row found landed counted nowhere)."""
    keep_holds = 0
    """Checks of settlements awaited that found the chain's identity in doubt: nothing sent,
    their bounds stopped (``_held``)."""
    presend: Callable[[], Awaitable[None]] | None = None
    """Awaited right before a settlement's send (the watcher's ``before_send``: the head asked
    when polling, a block known since the signature applied); its matches are then looked
    at again (``BatchTx._recheck``); and before a wait's first send of its bytes again after
    a doubt held its checks (``_keep_alive``)."""
    _held_waits: set[str] | None = None
    """Settlements awaited whose checks a doubt held (``_resumed``), not sent again since:
    their next send of their bytes looks again first (``_keep_alive``)."""
    _withheld_at: dict[str, float] | None = None  # (rows ``_earlier_pooled`` held, since when)

    def give_up(self, tx_hash: str, taken: bool = False) -> None:
        """``tx_hash`` counted lost: if it lands after all, the watcher applies its fills
        with its block; it is kept a reorg window from the head of now. ``taken``: its nonce
        proven taken without it (a start's row), counted in ``withheld_cancels`` if its cancel
        was sent (``withheld``: ``unsettled.replace_pooled``)."""
        if taken and self.withheld.pop(tx_hash, None) is not None:
            self.withheld_cancels += 1
        head = self.mirror.head if self.mirror is not None else None
        self.ours.landed(tx_hash, 0 if head is None else head.number)
        self.given_up.add(tx_hash.lower())

    def forget_final(self) -> None:
        """Drop from ``ours`` the transactions in final blocks: deeper than the mirror's
        reorg window below the head the watcher applied."""
        head = self.mirror.head if self.mirror is not None else None
        if self.mirror is not None and head is not None:
            self.ours.prune(head.number - self.mirror.depth)
            self.given_up = {t for t in self.given_up if t in self.ours}
        flying = self.in_flight  # (a gap's filler or a nudge: never in flight)
        self.signed_views = {t: v for t, v in self.signed_views.items() if t in flying}
        self.displaced &= flying
        self.kept &= flying  # (a restart's kept row its node could not adopt: given up)
        self.superseded &= flying
        # (settle84: a start's rows never adopted, nor counted, held here till the end)
        self.withheld = {t: w for t, w in self.withheld.items() if t in flying}
        self.cancels = {t: c for t, c in self.cancels.items() if t in flying}
        self.rejudged &= flying
        self.stale = {t: w for t, w in self.stale.items() if t in flying}
        self.unsendables = {t: u for t, u in self.unsendables.items() if t in flying}
        # (a start's rows never adopted: their waits, which take them, never start)
        self.unsent_at = {t: u for t, u in self.unsent_at.items() if t in flying}
        self.replaced_rows = {t: r for t, r in self.replaced_rows.items() if t in flying}
        if self._held_waits:
            self._held_waits &= flying
        self._withheld_at = {t: w for t, w in (self._withheld_at or {}).items() if t in flying}

    async def _heal_gap(self, lost: SignedTx) -> None:
        """``lost`` is lost. If later transactions of the lane are out, they wait on its
        nonce: filled by a transfer of nothing, unless the chain used it, pools one at it or
        holds ``lost`` pooled (``sdex.settlement.gap.lost_to_fill``). If none are out, the
        next transaction takes it (the nonce is read again). Held while the chain's identity
        is in doubt (``_undoubted``: its reads and fill; doubt78), not filled if it proved
        replaced."""
        after = self.sender.next_nonce
        if after is None or after <= lost.nonce + 1:
            self.sender.forget_nonce()
            return
        view = self.async_sends.viewed()
        async with self._send_lock:
            await self._undoubted(f"the fill of lost {lost.tx_hash}'s nonce")  # (doubt78)
            if self.async_sends.viewed() != view:  # (proven replaced: not the new chain's gap)
                self.sender.forget_nonce()
                return
            try:
                why = await lost_to_fill(self.receipts, self.sender.address, lost)
            except Exception as e:  # the later ones are then judged lost in their turn
                why = f"{type(e).__name__}: {e}"
                self.sender.forget_nonce()
            if why is None:
                await self._fill(range(lost.nonce, lost.nonce + 1))
            elif why != USED:
                log.warning("nonce %d not filled: %s", lost.nonce, why)

    async def _fill_gap(self, stuck: SignedTx, view: ChainView | None) -> bool:
        """(``_replace``'s: ``stuck`` pooled past the chain's latest count) The nonces below
        it that the chain holds nothing of filled by transfers of nothing
        (``sdex.settlement.gap.missing_below``, gap76): whether any was. Under
        ``_send_lock``: no settlement signed meanwhile; one queued is in flight."""
        async with self._send_lock:
            flying = self.in_flight
            ours = [t.nonce for h, (_, t) in self.signed_views.items() if h in flying]
            gap = await missing_below(self.receipts, self.sender.address, stuck, ours, view)
            if gap:
                log.warning("settlement %s pooled behind nonces %s: filled", stuck.tx_hash, gap)
                await self._fill(gap)
        return bool(gap)

    async def _over_gap(
        self, refused: SignedTx, times: FlightTimes | None
    ) -> asyncio.Future[Receipt | None]:
        """``refused`` answered "nonce too high" (not taken by the backend that answered:
        the lane's nonce past the chain's count, blocks of its settlements undone before the
        watcher saw it; or a backend that lags the one that took it, behind a balancer that
        sent it again there): the nonces below it that the chain holds nothing of, none of
        the lane's in flight at one, filled by transfers of nothing
        (``sdex.settlement.gap.unheld_below``), then its same bytes queued again after them
        (the broadcast returned), in the view it was signed in. Never its matches signed
        again at another nonce while these bytes may land (settle77: nonce75 did so when
        the chain did not know its hash; a lagging backend does not, and both were mined).
        Under ``_send_lock`` once the lane's sends under way have ended (the count read
        then covers each one the chain took); the lane's nonce is read again after it. Held
        while the chain's identity is in doubt, reads, fills and resend (``_undoubted``:
        doubt78, they went out against a chain that may be gone); one proven replaced
        meanwhile is not sent (``_same_chain``), nor one its settlement's ``unsendables``
        finds unsendable, the doubt's hold counted (held past ``HELD_SEND_MAX``, an order of
        it cancelled): its cancel instead (``BatchTx._withheld``; adopt79: sent however long
        the doubt held it)."""
        async with self._send_lock:
            await self._sends_ended()
            held = await self._undoubted(f"the resend of {refused.tx_hash}")  # (doubt78)
            view = self.signed_views.get(refused.tx_hash, (self.async_sends.viewed(),))[0]
            flying = self.in_flight - {refused.tx_hash}
            ours = [t.nonce for h, (_, t) in self.signed_views.items() if h in flying]
            try:
                gap = await unheld_below(
                    self.receipts, self.sender.address, refused, ours, view,
                    self.async_sends.viewed,
                )  # fmt: skip
            except Exception as e:  # (sent again as it is: a refusal again tells)
                log.warning("nonces below %s not read: %s", refused.tx_hash, e)
                gap = range(0)
            if gap:
                log.warning("settlement %s refused past nonces %s: filled", refused.tx_hash, gap)
                await self._fill(gap)
            self.sender.forget_nonce()
            check = self.unsendables.get(refused.tx_hash)  # (adopt79: held past the bound)
            later = None if check is None else (lambda more: check(held + more))
            sending = self._send_queued(None, refused, times, view, later)
            self.sending(sending)
        return sending

    def _held(self, signed: SignedTx) -> bool:
        """(``poll_receipt``'s ``held``) Whether the chain's identity is in doubt: ``signed``'s
        wait sends nothing, and its bounds stop, until it ends (``keep_holds`` counts its
        checks; keep78)."""
        if not (why := self.async_sends.doubted()):
            return False
        self.keep_holds += 1
        log.debug("settlement %s not sent again: in doubt (%s)", signed.tx_hash, why)
        return True

    def _resumed(self, signed: SignedTx, held_for: float) -> None:
        """(``poll_receipt``'s ``resumed``) ``signed``'s checks go on after a doubt held them
        ``held_for`` seconds: past ``HELD_SEND_MAX``, stale (``_keep_alive``)."""
        if self._held_waits is None:
            self._held_waits = set()
        self._held_waits.add(signed.tx_hash)  # (its next send looks again: ``_keep_alive``)
        if held_for > HELD_SEND_MAX and signed.tx_hash not in self.stale:
            self.stale[signed.tx_hash] = (
                f"held {held_for:.0f} s while the chain's identity was in doubt"
            )
            log.warning("settlement %s: %s", signed.tx_hash, self.stale[signed.tx_hash])

    def _held_before(self, signed: SignedTx) -> float:
        """Seconds a doubt held ``signed`` (a row a start left unsent in one: ``unsent_at``)
        before its wait: to its end (``ChainDoubt.ended``), or to now if one holds. doubt80:
        not counted, an adopted row held through a start's long doubt sent its bytes again
        as it ended, past ``HELD_SEND_MAX`` (adopt79's stale bytes)."""
        since = self.unsent_at.pop(signed.tx_hash, None)
        if since is None:
            return 0.0
        now = time.time()
        ended = self.mirror.doubts_said[1] if self.mirror is not None else 0.0
        if not self.async_sends.doubted() and ended >= since:
            now = min(now, ended)
        return max(0.0, now - since)

    async def _keep_alive(self, signed: SignedTx, cancel: bool, own: Sequence[str] = ()) -> bool:
        """(``poll_receipt``'s ``keep``: ``signed``'s nonce not taken, the chain asked does
        not know it, or it is past its bound) Its bytes sent again as signed (refused "nonce
        too high": the nonces below filled first and sent again, ``_over_gap``); ``cancel``:
        its cancel's instead (``_cancel``). Only to the chain behind the URL that holds the
        view it was signed in (``AsyncSends.on_chain``: never while the chain's identity is
        in doubt); an error logged, the wait asks again at its next check. Not if the watcher
        saw the chain replaced since it was signed: not kept any more (False; its bytes are
        not sent to the new chain, resend68, and a chain that never comes to its nonce would
        hold its matches for good), judged as any other. Nothing sent while the chain's
        identity is in doubt (kept: the next check asks again; doubt78), nor once the lane
        signed a later settlement at its nonce (``superseded``: ``own`` is it and its
        replacements). Its cancel, not its bytes, once a doubt held its checks past
        ``HELD_SEND_MAX`` (``stale``; adopt79: bytes the chain no longer knew, its matches
        minutes old and an order of them maybe cancelled meanwhile, were sent again as the
        doubt ended); pooled, it may land as it is. So once its ``unsendables`` finds an
        order of it cancelled, expired or filled since (doubt80: bytes the chain dropped went
        again after a soft cancel was acknowledged, and filled the cancelled order)."""
        if why := self.async_sends.doubted():  # (doubt78: kept, asked again at the next check)
            log.warning("settlement %s not sent again: in doubt (%s)", signed.tx_hash, why)
            return True
        now = self.async_sends.viewed()
        view = self.signed_views.get(signed.tx_hash, (now,))[0] or now  # (adopted)
        if view != now:
            log.warning("settlement %s not kept: %s", signed.tx_hash, NOT_ITS_CHAIN)
            return False
        if not self.superseded.isdisjoint(own):  # (held79: its cancel displaced the next)
            log.info("settlement %s not sent again: a later one holds its nonce", signed.tx_hash)
            return True
        if cancel and await self._earlier_pooled(signed, own):  # (restart98)
            return True
        if cancel and not self.rejudged.isdisjoint(own):  # (past its bound: its transfer)
            # (its bytes sent since, judged settling: a bound's cancel, counted as ``_cancel``
            # counts one; settle86: the start's "not sent again", ``withheld_cancels``)
            self.cancelled += own[0] not in self.withheld and signed.tx_hash in self.cancels
            self.rejudged -= set(own)
        judge = not cancel and not self.rejudged.isdisjoint(own)  # (a start's transfer: settle84)
        cancel = cancel or (signed.tx_hash in self.cancels and not judge)  # (after a doubt too)
        check = next((self.unsendables[h] for h in own if h in self.unsendables), None)
        if not cancel and check is not None and self._after_hold(own):
            await self._looked_again(signed)
        # (adopt79: its bytes not revived after a long doubt; doubt80: nor once an order of
        # it was cancelled, expired or filled since, as before its first send)
        why = "" if cancel else next((self.stale[h] for h in own if h in self.stale), "")
        if not cancel and (why := why or (check(0.0) if check is not None else "")):
            cancel = True
            self.withheld.setdefault(own[0], f"not sent again ({why})")
        if judge and not cancel:
            if (settles := await self._settles_now(signed)) is None:
                return True  # (not judged: nothing sent, the next check asks again: review86b)
            cancel = not settles  # (its transfer, ``cancels``: settle84, the bytes reverted)
            if cancel:
                self.withheld.setdefault(own[0], f"not sent again ({SETTLES_NONE})")
            else:  # (its bytes sent: no more the start's withheld row; settle86)
                self.withheld.pop(own[0], None)
        try:
            if not await self.async_sends.on_chain(view):  # (the watcher's reset tells)
                return True
            again = await self._cancel(signed) if cancel else signed
            if self.async_sends.doubted():  # (begun meanwhile: the next check asks again)
                return True
            await self.async_sends.rpc.call("eth_sendRawTransaction", again.raw)
        except RpcError as e:
            if self.async_sends.doubted():  # (keep78: no fill, no resend; nor a wait held)
                return True
            if nonce_refusal(e) == "high" and not cancel:  # (reconcile77, settle77)
                with contextlib.suppress(Exception):
                    await (await self._over_gap(signed, None))
            elif not already_known(e) and nonce_refusal(e) != "low":
                log.warning("settlement %s sent again: %s", signed.tx_hash, e)
        except Exception as e:
            log.warning("settlement %s sent again: %s", signed.tx_hash, e)
        return True

    async def _earlier_pooled(self, signed: SignedTx, own: Sequence[str]) -> bool:
        """(``signed`` past its bound, its cancel due) Whether a settlement it superseded at
        its nonce (``superseded``, in flight: a start's earlier row, review97d) is pooled and
        may still go (its ``unsendables`` say nothing): then no cancel over it, the nonce left
        to it (``signed`` lost once it lands, its batch failed; the earlier's settled).
        restart98: the later's bytes unknown to the chain, its cancel displaced the earlier's
        pooled bytes, both batches failed. A read that fails: False, cancelled as before; so past
        ``RECEIPT_TIMEOUT`` held (lane101: a liar's pooled, or fees outrun, held it for ever)."""
        key, now = (*own, signed.tx_hash)[0], time.time()
        if now - (self._withheld_at or {}).get(key, now) > RECEIPT_TIMEOUT:
            return False
        at = [
            h for h, (_, t) in self.signed_views.items()
            if t.nonce == signed.nonce and h in self.superseded and h not in own
            and h in self.in_flight and not (self.unsendables.get(h) or (lambda _: ""))(0.0)
        ]  # fmt: skip
        for h in at:
            try:
                known = await self.receipts.call("eth_getTransactionByHash", h)
            except Exception:
                return False
            if isinstance(known, dict) and known.get("blockNumber") is None:
                log.info("settlement %s not cancelled: %s pooled at its nonce", signed.tx_hash, h)
                self._withheld_at = {key: now, **(self._withheld_at or {})}
                return True
        return False

    def _after_hold(self, own: Sequence[str]) -> bool:
        """Whether a doubt held the checks of the settlement of ``own`` since its bytes were
        last sent (``_resumed``): forgotten once asked."""
        held = self._held_waits
        if not held or held.isdisjoint(own):
            return False
        held.difference_update(own)
        return True

    async def _looked_again(self, signed: SignedTx) -> None:
        """(Before a send of ``signed``'s bytes again after a doubt held its wait) The blocks
        known applied first (``presend``, the watcher's), so that ``unsendables`` judge its
        matches on them. settle81: a doubt holds the watcher's evidence, not the chain, which
        mined on; an order of the bytes cancelled or filled in a block the watcher had not
        applied as the doubt ended went unseen, the bytes were sent, mined and reverted (the
        operator paying), within ``HELD_SEND_MAX`` too. Its errors logged: sent as judged."""
        if self.presend is None:
            return
        try:
            await self.presend()
        except Exception as e:
            log.warning("settlement %s: blocks not looked at before its resend: %s",
                        signed.tx_hash, e)  # fmt: skip

    async def _fill(self, nonces: range) -> None:
        """(``_send_lock`` held) ``sdex.settlement.gap.fill``, each sent in nonce order."""
        sent = await fill(self.receipts, self.sender, self.fees, nonces, self._send_filler)
        self.gap_fills += sent

    async def _send_filler(self, filler: SignedTx) -> None:
        await self.broadcast_after(None, filler, None)

    async def _receipt(
        self,
        signed: SignedTx,
        suspect: bool = False,
        heads_before: int | None = None,
        early: Receipt | None = None,
        whole: Callable[[Receipt], str] | None = None,
    ) -> tuple[SignedTx, Receipt | None]:
        """The transaction of ``signed``'s nonce that landed (it, or a replacement at higher
        fees: ``_replace_if_stuck``) and its receipt (``early``: the one that came with the
        send, once a read on a connection of its own gives it too, its fills queued on the
        store then, ``Broadcaster.early``; else awaited as any: ``sdex.settlement.confirm``,
        settle93); when it is lost (its nonce taken by another transaction, no receipt of any of
        them: checked at once when ``suspect``, its broadcast failed; one ``whole`` finds
        wrong is not believed, ``poll_receipt``), the latest of them
        and None. The settler finishes the one
        returned; the others are dropped here (given up when lost: if one lands after all,
        the watcher applies it). Lost only once its nonce is taken, its bytes sent again
        meanwhile, cancelled past a bound (``poll_receipt``'s ``keep``: ``_keep_alive``;
        lost78: one the chain asked did not know twice was counted lost, its matches matched
        again while its bytes, pooled at another backend, could land: both were mined)."""
        if early is not None and whole is not None and whole(early):  # (awaited as any: edge94)
            early = None
        # (what reads said of its receipts: a start's, the early one's and the wait's)
        tally = kept_tally(self, signed.tx_hash) or Tally()
        tally.floor = self.sent_floor(signed.tx_hash)  # (sent in this run: none mined before)
        if early is not None:  # (believed once told again apart, no doubt said: settle93)
            asked = self.said()
            told = await confirmed_seen(self.receipts, early, self.mirror, tally, signed.raw)
            if told and self.said() == asked and not self.async_sends.doubted():
                return signed, self.broadcaster.early(early)
        heads = self.mirror.announced if self.mirror is not None else None
        # (adopted in a doubt: the rows signed before it at its nonce too, doubt81)
        pooled = Pooled([*self.replaced_rows.pop(signed.tx_hash, ()), signed])
        own = [signed.tx_hash]  # (it first: ``_keep_alive``'s ``withheld`` is by it)

        unsent = len(pooled.txs) > 1  # (adopted with the rows replaced before it: doubt81)

        async def stuck() -> None:
            nonlocal unsent
            if unsent and not self.async_sends.doubted():  # (pooled: maybe an earlier one,
                unsent = False  # its replacement's bytes never sent; they go once, as kept)
                own[1:] = [h for h in pooled.hashes if h != signed.tx_hash]
                await self._keep_alive(pooled.latest, False, own)
            await self._replace_if_stuck(pooled)

        async def alive(cancel: bool) -> bool:
            if before and not self.async_sends.doubted():  # (no check of its wait held)
                resumed(0.0)
            own[1:] = [h for h in pooled.hashes if h != signed.tx_hash]
            return await self._keep_alive(pooled.latest, cancel, own)

        def held() -> bool:
            return self._held(pooled.latest)

        before = self._held_before(signed)  # (adopted: a start's doubt, doubt80)

        def resumed(held_for: float) -> None:
            nonlocal before
            self._resumed(pooled.latest, held_for + before)
            before = 0.0

        ended = False
        receipt: Receipt | None = None
        try:
            receipt = await poll_receipt(
                self.receipts, self.sender.address, signed, suspect, heads, heads_before,
                self.blocks, pooled.hashes, stuck, alive, held, resumed, self.said, whole,
                lambda got: confirmed_seen(
                    self.receipts, got, self.mirror, tally,
                    next((t.raw for t in pooled.txs
                          if t.tx_hash.lower() == got.tx_hash.lower()), None),
                ),
            )  # fmt: skip
            ended = True
        finally:
            landed = pooled.latest
            if receipt is not None:  # (a receipt of none of them, from a lying endpoint: the first)
                said = receipt.tx_hash.lower()
                landed = next((t for t in pooled.txs if t.tx_hash.lower() == said), signed)
            for tx in pooled.txs:
                self.signed_views.pop(tx.tx_hash, None)
                self.cancels.pop(tx.tx_hash, None)
                self.rejudged -= {tx.tx_hash}
                self.stale.pop(tx.tx_hash, None)
                self.unsendables.pop(tx.tx_hash, None)
                if tx is (landed if ended else signed):  # (the settler's to finish)
                    continue
                self.in_flight.discard(tx.tx_hash)
                if self.mirror is not None:
                    self.mirror.unexpect(tx.tx_hash)
                if ended:  # (stopped: left pending, a restart sends each again)
                    self.store.set_settlement_status(tx.tx_hash, "dropped")
                    if receipt is None:
                        self.give_up(tx.tx_hash)
                    else:
                        self.ours.discard(tx.tx_hash)
        return landed, receipt
