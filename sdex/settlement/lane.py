"""The settler's nonce lane (``sdex.settlement.settler``): the next transaction signed in
nonce order, its receipt awaited (none: the transaction is lost), the nonce of a lost one
that later transactions wait on filled by a transfer of nothing, and the node's own
settlement transactions forgotten once final."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Any

from sdex.chain import Receipt, Sender, SignedTx
from sdex.chain.aio import ChainThread, NotDone
from sdex.chain.arpc import AsyncRpc
from sdex.chain.asend import AsyncSends
from sdex.mirror import Mirror
from sdex.settlement.broadcast import Broadcaster
from sdex.settlement.gas import GAP_FILL_GAS, Fees
from sdex.settlement.owned import OwnTxs
from sdex.settlement.receipts import BlockReceipts, poll_receipt, quantity
from sdex.settlement.stages import FlightTimes

log = logging.getLogger("sdex.settlement")


class NonceLane:
    """The signing, receipts and gap filling of ``Settler`` (which builds these parts)."""

    chain: ChainThread
    sender: Sender
    receipts: AsyncRpc
    mirror: Mirror | None
    fees: Fees
    broadcaster: Broadcaster
    ours: OwnTxs
    given_up: set[str]
    """Of ``ours``, those counted lost (``give_up``): landed after all, their fills count in
    the orders they closed meanwhile (``NodeChainState._on_block``)."""
    blocks: BlockReceipts | None
    gap_fills: int
    sends: set[asyncio.Future[Receipt | None]]
    _send_lock: asyncio.Lock
    async_sends: AsyncSends
    """The broadcasts, on the event loop."""
    _last_broadcast: asyncio.Future[Receipt | None] | None

    def broadcast_after(
        self, recorded: Future[Any] | None, signed: SignedTx, times: FlightTimes | None
    ) -> asyncio.Future[Receipt | None]:
        """(``_send_lock`` held) Broadcast ``signed`` on the event loop
        once ``recorded`` (its record on the store's writer) is durable and every broadcast
        queued before it ended: one at a time, in nonce order. The future raises
        ``NotDone`` if the record failed (never sent)."""
        before = self._last_broadcast
        task = asyncio.ensure_future(self._broadcast(recorded, before, signed, times))
        self._last_broadcast = task
        return task

    async def _broadcast(
        self,
        recorded: Future[Any] | None,
        before: asyncio.Future[Receipt | None] | None,
        signed: SignedTx,
        times: FlightTimes | None,
    ) -> Receipt | None:
        if recorded is not None:
            try:
                await asyncio.wrap_future(recorded)
            except asyncio.CancelledError:
                raise
            except BaseException as e:
                raise NotDone(f"{type(e).__name__}: {e}") from None
        self.broadcaster.queued(signed, times)
        started = False
        try:
            if before is not None and not before.done():
                await asyncio.wait((before,))
            started = True  # (``send_async`` counts it started before its first await)
            return await self.broadcaster.send_async(self.async_sends, signed, times)
        finally:
            if not started:  # cancelled while it waited its turn (review30)
                self.broadcaster.unqueued()

    def sending(self, sent: asyncio.Future[Receipt | None]) -> None:
        """``sent`` is a broadcast of the lane's, queued: under way until it ends."""
        self.sends.add(sent)
        sent.add_done_callback(self.sends.discard)

    async def _sends_ended(self) -> None:
        """(``_send_lock`` held: no new one queued) Until every broadcast of the lane queued
        has ended: the chain's count then covers each one it took. Read before, it could
        hand out the nonce of one signed and not yet sent (a second transaction at it)."""
        if self.sends:
            await asyncio.wait(list(self.sends))

    async def chain_knows(self, signed: SignedTx) -> bool:
        """Whether the chain holds ``signed`` (pooled or mined), or may. A send answered
        "nonce too low" may be the node's own transaction whose bytes reached the chain twice
        (a proxy that retried it, a second send after a failed sync send): its nonce is used
        by itself. Not held only when one answer (one request: one backend behind a
        balancer) says the sender's count is past its nonce and the hash unknown: a backend
        that lags the one that refused the send, not yet at the block where ours landed,
        answers null too (review30: the batch was signed again, its matches sent twice).
        True too when the ask fails: unknown, so not signed again (review28)."""
        try:
            found, count = await self.receipts.batch(
                [
                    ("eth_getTransactionByHash", [signed.tx_hash]),
                    ("eth_getTransactionCount", [self.sender.address, "latest"]),
                ]
            )
            return found is not None or quantity(count) <= signed.nonce
        except Exception:
            return True

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

    async def _sign_next(self, to: str, data: bytes, gas: int) -> SignedTx:
        """Sign the lane's next transaction (its nonce, when not known, read from the chain
        once no broadcast of the lane is under way): the nonce and fees read and the
        transaction signed on the event loop (a key parsed once, ~0.1 ms a signature: a
        thread of its own would wait for the GIL longer), so that signing never waits
        behind a broadcast."""
        fees = await self.fees.current(self.receipts)
        while True:
            if self.sender.next_nonce is None:
                await self._sends_ended()
                pending = await self.receipts.call(
                    "eth_getTransactionCount", self.sender.address, "pending"
                )
                self.sender.learn_nonce(quantity(pending))
            with self.sender.lock:  # (forgotten meanwhile: read again, never on the loop)
                if self.sender.next_nonce is not None:
                    return self.sender.sign(to, data, gas, fees=fees)

    async def _heal_gap(self, nonce: int) -> None:
        """A transaction of ``nonce`` is lost. If the chain has not used that nonce and
        later ones of this lane are out, they wait on it: fill it with a transfer of
        nothing to ourselves, so they land now, not at their timeout. If none are out,
        the next transaction takes it (the nonce is read again)."""
        rpc = self.receipts
        after = self.sender.next_nonce
        if after is None or after <= nonce + 1:
            self.sender.forget_nonce()
            return
        async with self._send_lock:
            try:
                mined = quantity(
                    await rpc.call("eth_getTransactionCount", self.sender.address, "latest")
                )
                if mined != nonce:  # used already; or an earlier gap, which its loss fills
                    return
                fees = await self.fees.current(rpc)
                filler = self.sender.sign_at(
                    nonce, self.sender.address, b"", GAP_FILL_GAS, fees=fees
                )
                await self.broadcast_after(None, filler, None)
                self.gap_fills += 1
                log.warning("nonce %d filled by %s: later settlements go on", nonce, filler.tx_hash)
            except Exception as e:  # the later ones are then judged lost in their turn
                log.warning("filling nonce %d failed: %s", nonce, e)
                self.sender.forget_nonce()

    async def _receipt(
        self, signed: SignedTx, suspect: bool = False, heads_before: int | None = None
    ) -> Receipt | None:
        """The receipt of ``signed``; None when it is lost: no receipt while its nonce was
        taken by another transaction, or the chain does not know it any more (checked at
        once when ``suspect``: its broadcast failed)."""
        heads = self.mirror.announced if self.mirror is not None else None
        return await poll_receipt(
            self.receipts, self.sender.address, signed, suspect, heads, heads_before, self.blocks
        )
