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
from collections.abc import Sequence
from typing import Any

from sdex.chain import Receipt, SignedTx
from sdex.chain.aio import ChainThread
from sdex.chain.asend import ChainView, holds_view, not_served
from sdex.chain.tx import already_known, fees_of, nonce_refusal
from sdex.errors import RpcError, RpcTimeout
from sdex.mirror import Mirror
from sdex.settlement.gap import USED, fill, lost_to_fill, missing_below, unheld_below
from sdex.settlement.gas import GAP_FILL_GAS
from sdex.settlement.receipts import BlockReceipts, in_pool, poll_receipt, quantity
from sdex.settlement.replace import STUCK_IDLE, Pooled, bumped
from sdex.settlement.signing import NOT_ITS_CHAIN, SigningLane
from sdex.settlement.stages import FlightTimes
from sdex.settlement.stale import displace
from sdex.store import Store

log = logging.getLogger("sdex.settlement")


class NonceLane(SigningLane):
    """The receipts, replacements and gap filling of ``Settler`` (which builds these parts),
    after the signing and broadcasts of ``sdex.settlement.signing``."""

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
    cancels: dict[str, SignedTx]
    """Of the settlements awaited, those cancelled (``_cancel``): the transfer of nothing at
    its nonce sent again in its place."""
    cancelled = 0
    """Settlements cancelled at their nonce past their bound (``_cancel``)."""
    superseded: set[str]
    """Settlements in flight at a nonce the lane signed a later one at (``BatchTx``): that one
    holds it, their waits send nothing more (``_keep_alive``)."""
    blocks: BlockReceipts | None
    gap_fills: int
    store: Store
    in_flight: set[str]
    replaced = 0
    """Settlements signed again at higher fees, pooled and not mined (``replace``)."""
    _replacing: asyncio.Lock | None = None
    """Held while a replacement is signed, recorded and sent (``_replace``)."""
    automine_unserved = False
    """The chain said it does not serve ``hardhat_getAutomine`` (a live chain)."""
    replace_refused = 0
    """Replacements the chain refused (Hardhat while it automines: "Nonce too low")."""
    pool_nudges = 0
    keep_holds = 0
    """Checks of settlements awaited that found the chain's identity in doubt: nothing sent,
    their bounds stopped (``_held``)."""
    """Transfers of nothing sent to make a chain that mines on the send mine its pool
    (``_nudge``)."""

    def give_up(self, tx_hash: str) -> None:
        """``tx_hash`` counted lost: if it lands after all, the watcher applies its fills
        with its block; it is kept a reorg window from the head of now."""
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
        meanwhile is not sent (``_same_chain``)."""
        async with self._send_lock:
            await self._sends_ended()
            await self._undoubted(f"the resend of {refused.tx_hash}")  # (doubt78)
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
            sending = self._send_queued(None, refused, times, view)
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
        replacements)."""
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
        cancel = cancel or signed.tx_hash in self.cancels  # (once cancelled: after a doubt too)
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

    async def _cancel(self, signed: SignedTx) -> SignedTx:
        """``signed``'s cancel: a transfer of nothing to the lane's own address at its
        nonce, its fees over ``signed``'s (a replacement wherever it is pooled) and never
        under the lane's of now; signed once, then the same bytes. Safe at any time: one
        transaction of a nonce lands, and the wait tells which (``poll_receipt``); its
        matches are failed only once this or another took the nonce, never matched again
        while ``signed`` may land (lost78)."""
        got = self.cancels.get(signed.tx_hash)
        if got is None:
            fees = bumped(signed.fees, await self.fees.current(self.receipts))
            got = self.sender.sign_at(
                signed.nonce, self.sender.address, b"", GAP_FILL_GAS, fees=fees
            )
            self.cancels[signed.tx_hash] = got
            self.cancelled += 1
            log.warning(
                "settlement %s not mined, its nonce %d not taken: cancelled by %s",
                signed.tx_hash, signed.nonce, got.tx_hash,
            )  # fmt: skip
        return got

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
    ) -> tuple[SignedTx, Receipt | None]:
        """The transaction of ``signed``'s nonce that landed (it, or a replacement at higher
        fees: ``_replace_if_stuck``) and its receipt (``early``: the one that came with the
        send); when it is lost (its nonce taken by another transaction, no receipt of any of
        them: checked at once when ``suspect``, its broadcast failed), the latest of them
        and None. The settler finishes the one
        returned; the others are dropped here (given up when lost: if one lands after all,
        the watcher applies it). Lost only once its nonce is taken, its bytes sent again
        meanwhile, cancelled past a bound (``poll_receipt``'s ``keep``: ``_keep_alive``;
        lost78: one the chain asked did not know twice was counted lost, its matches matched
        again while its bytes, pooled at another backend, could land: both were mined)."""
        if early is not None:
            return signed, early
        heads = self.mirror.announced if self.mirror is not None else None
        pooled = Pooled([signed])

        async def stuck() -> None:
            await self._replace_if_stuck(pooled)

        async def alive(cancel: bool) -> bool:
            return await self._keep_alive(pooled.latest, cancel, pooled.hashes)

        def held() -> bool:
            return self._held(pooled.latest)

        ended = False
        receipt: Receipt | None = None
        try:
            receipt = await poll_receipt(
                self.receipts, self.sender.address, signed, suspect, heads, heads_before,
                self.blocks, pooled.hashes, stuck, alive, held,
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

    async def _automines(self) -> bool:
        """Whether the chain mines on the send (``hardhat_getAutomine``: anvil and Hardhat
        serve it); a chain that says it does not serve it is not asked again."""
        if self.automine_unserved:
            return False
        try:
            return await self.receipts.call("hardhat_getAutomine") is True
        except Exception as e:
            self.automine_unserved = not_served(e)
            raise

    async def _replace_if_stuck(self, pooled: Pooled) -> None:
        """(``poll_receipt``'s hook: ``pooled``'s latest transaction is pooled, its nonce not
        used) If the chain is not mining it (``sdex.settlement.replace``), sign it again at
        higher fees, record it beside the first (a restart sends both: one lands), send it.
        One at a time, each asked again first whether still pooled: on anvil one
        replacement's block may take the others too. Errors are logged: it waits as before.
        None while the chain's identity is in doubt (``AsyncSends.doubted``; kept77: the lane
        kept paying higher fees, and filling gaps, on a chain that may be gone)."""
        if pooled.done or pooled.latest.body is None:
            return
        try:
            head = quantity(await self.receipts.call("eth_blockNumber"))
            why = pooled.seen(head, asyncio.get_running_loop().time())
            if why is None or (why == "idle" and not await self._automines()):
                return
            if self._replacing is None:
                self._replacing = asyncio.Lock()
            async with self._replacing:
                if self.async_sends.doubted():  # (kept77: asked again at the next check)
                    return
                if await self._replace(pooled, why) and why == "idle":
                    await self._head_past(head)
        except Exception as e:  # (no answer: asked again at the next check)
            log.debug("settlement %s pooled, not replaced: %s", pooled.latest.tx_hash, e)

    async def _head_past(self, head: int) -> None:
        """Until the chain's head is past ``head`` (``STUCK_IDLE`` at most): a chain that
        mines on the send mines the replacement's block, which may take the other pooled
        settlements too, before the next is asked whether it is still pooled (anvil tells
        it pooled a moment after: its replacement was refused, "nonce too low")."""
        loop = asyncio.get_running_loop()
        until = loop.time() + STUCK_IDLE
        while loop.time() < until:
            if quantity(await self.receipts.call("eth_blockNumber")) > head:
                return
            await asyncio.sleep(0.01)

    async def _replace(self, pooled: Pooled, why: str) -> bool:
        """(``_replacing`` held) ``pooled``'s latest, still pooled, replaced at higher fees:
        whether one was sent. Not if the watcher saw the chain replaced since it was signed
        (settle74: one sent to the new chain before the watcher saw it, which queues a nonce
        ahead of its count, anvil or geth, was found pooled there and signed again for it up
        to ``MAX_REPLACEMENTS`` times, compared with the view of now), nor since it was found
        pooled (resend68: the old chain's match sent at higher fees to the new chain, mined
        there at the nonce it has free): the replacement's row dropped. Nor if the chain
        behind the URL does not hold the view's block, asked in the same batch as whether it
        is pooled and the latest block's fees (settle69: the watcher had not seen it yet, the
        old one's bytes sent there by another), and asked again once the replacement is
        recorded, right before its send (hold70: replaced between that batch and the send,
        the replacement went to the new chain, mined there). Three round trips, as before
        (the fees were a request of their own)."""
        rpc, last = self.receipts, pooled.latest
        now = self.async_sends.viewed()
        view = self.signed_views.get(pooled.txs[0].tx_hash, (now,))[0] or now  # (adopted)
        if view != now:  # settle74: signed for a chain the watcher saw replaced since
            log.warning("settlement %s pooled, not replaced: %s", last.tx_hash, NOT_ITS_CHAIN)
            return await self._displace(pooled, now)
        asks: list[tuple[str, list[Any]]] = [
            ("eth_getTransactionByHash", [last.tx_hash]),
            ("eth_getTransactionCount", [self.sender.address, "latest"]),
            ("eth_getBlockByNumber", ["latest", False]),
        ]
        if view is not None:
            asks.append(("eth_getBlockByNumber", [hex(view[0]), False]))
        known, count, latest, *at = await rpc.batch(asks)
        if view is not None and not holds_view(view, at[0]):
            log.warning("settlement %s pooled, not replaced: %s", last.tx_hash, NOT_ITS_CHAIN)
            return False
        # (anvil tells a transaction pooled a moment after its block counts its nonce)
        if not in_pool(known) or quantity(count) > last.nonce or not last.body:
            return False  # (mined meanwhile, or gone: the receipt's wait tells)
        if quantity(count) < last.nonce and await self._fill_gap(last, view):
            return True  # (pooled behind a gap: fees cannot help; gap76)
        # the fees of the latest block, read now (those the lane signs with may be a second
        # old: a base fee that outran the fee cap is why a live chain leaves one pooled)
        fees = bumped(last.fees, fees_of(latest))
        to, data, gas, value = last.body
        again = self.sender.sign_at(last.nonce, to, data, gas, value, fees=fees)
        first = pooled.txs[0].tx_hash
        await asyncio.wrap_future(
            self.store.add_replacement(first, again.tx_hash, again.nonce, again.raw)
        )
        try:  # (the watcher's view, then the chain behind the URL: the last ask before it)
            same = self.async_sends.viewed() == view and await self.async_sends.on_chain(view)
        except BaseException:  # (unknown: not sent; its row would send it at a restart)
            self.store.set_settlement_status(again.tx_hash, "dropped")
            raise
        if not same:  # (a reset the watcher saw: its re-judging has the orders)
            self.store.set_settlement_status(again.tx_hash, "dropped")
            log.warning("settlement %s pooled, not replaced: %s", last.tx_hash, NOT_ITS_CHAIN)
            return False
        self.in_flight.add(again.tx_hash)
        self.ours.add(again.tx_hash)
        if last.tx_hash.lower() in self.given_up:  # (review68: its fills counted as its own)
            self.given_up.add(again.tx_hash.lower())
        if self.mirror is not None:
            self.mirror.expect(again.tx_hash)
        self.signed_views[again.tx_hash] = (view, again)
        try:
            await self.async_sends.rpc.call("eth_sendRawTransaction", again.raw)
        except RpcError as e:
            if refused(e):  # the chain's answer: it cannot land
                self.in_flight.discard(again.tx_hash)
                self.ours.discard(again.tx_hash)
                if self.mirror is not None:
                    self.mirror.unexpect(again.tx_hash)
                self.store.set_settlement_status(again.tx_hash, "dropped")
                self.replace_refused += 1
                pooled.done = True  # (Hardhat refuses any: the lane's next send mines its pool)
                log.warning("settlement %s pooled, its replacement refused: %s", last.tx_hash, e)
                return why == "idle" and await self._nudge()
            log.warning("replacement %s of %s: %s", again.tx_hash, last.tx_hash, e)
        except Exception as e:  # (fate unknown: it may land, so it is waited for too)
            log.warning("replacement %s of %s: %s", again.tx_hash, last.tx_hash, e)
        pooled.replaced_by(again)
        self.replaced += 1
        log.warning(
            "settlement %s pooled (%s), not mined: sent again as %s at fees %s",
            last.tx_hash, why, again.tx_hash, fees,
        )  # fmt: skip
        return True

    async def _displace(self, pooled: Pooled, view: ChainView | None) -> bool:
        """(``_replace``'s) ``pooled``'s latest, signed for a chain the watcher saw replaced
        since, displaced on the chain behind the URL if pooled there
        (``sdex.settlement.stale``; once, unless the nonce read after the reset did)."""
        pooled.done = True
        last = pooled.latest
        if view is None or last.tx_hash in self.displaced:
            return False
        done = await displace(self.receipts, self.async_sends.rpc, self.sender, [last], view)
        self.displaced.update(done)
        return bool(done)

    async def _nudge(self) -> bool:
        """(A replacement refused on a chain that mines on the send: Hardhat, its automine
        resumed over a pool, mines nothing of it until it is sent a transaction) A transfer
        of nothing to ourselves at the lane's next nonce, after every pooled one: Hardhat
        mines it with the pool. Before (reorg63), a node with nothing more to send left its
        settlements pooled until ``RECEIPT_TIMEOUT``, then counted them lost and matched
        their orders again, the new settlement reverting once it mined the pool. Whether it
        was sent (its nonce read again if its fate is unknown)."""
        async with self._send_lock:
            try:
                nudge = await self._sign_next(self.sender.address, b"", GAP_FILL_GAS)
                await self.broadcast_after(None, nudge, None)
            except Exception as e:  # (an unknown nonce state: read again for the next one)
                log.warning("a transfer of nothing to mine the pool failed: %s", e)
                self.sender.forget_nonce()
                return False
        self.pool_nudges += 1
        log.warning("pool not mined: transfer of nothing %s sent to mine it", nudge.tx_hash)
        return True


def refused(e: RpcError) -> bool:
    """Whether a send's error is the chain's refusal (an answer that is no "already known"):
    not a timeout nor this client's own error (code 0), after which it may have landed."""
    return not isinstance(e, RpcTimeout) and e.code != 0 and not already_known(e)
