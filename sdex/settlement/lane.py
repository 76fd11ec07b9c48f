"""The settler's nonce lane (``sdex.settlement.settler``'s base): sign, record, queue the
broadcast; gas bounds; receipts; a lost transaction's nonce filled.

A batch is signed, recorded and its broadcast queued at once, with no await
(``_launch_now``), whenever that needs none: the lane free, the fees and the nonce known,
not a suspect lone match (pre-flighted first); else by ``_launch``, with awaits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from sdex.chain import Receipt, Sender, SignedTx
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.errors import ChainError, ContractRevert
from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.settlement.broadcast import Broadcaster
from sdex.settlement.gas import (
    BASE_GAS,
    FALLBACK_FACTOR,
    GAP_FILL_GAS,
    GAS_PER_MATCH,
    LONE_GAS,
    MAX_TX_GAS,
    Fees,
    fitting_batch,
)
from sdex.settlement.outcome import Outcome, SettledMatch
from sdex.settlement.owned import OwnTxs
from sdex.settlement.receipts import RECEIPT_TIMEOUT, BlockReceipts, poll_receipt, quantity
from sdex.settlement.stages import FlightTimes
from sdex.store import Store

log = logging.getLogger("sdex.settlement")


class Launched(NamedTuple):
    """A batch signed and recorded, its broadcast queued (``sending``: its receipt if it
    came with the send); ``heads``: the mirror's heads count then; ``gas``: its bound."""

    signed: SignedTx
    sending: asyncio.Future[Receipt | None]
    heads: int | None
    gas: int


class Lane:
    """The operator's nonce lane: what a settler sends, and how."""

    def __init__(
        self,
        chain: ChainThread,
        sender: Sender,
        store: Store,
        max_batch: int,
        *,
        receipts: AsyncRpc | None,
        mirror: Mirror | None,
        backlog_batch: int | None,
        suspect: Callable[[Match], bool] | None,
    ) -> None:
        self.chain = chain
        self.suspect = suspect
        """A match some order of which failed a settlement before with no one found guilty
        (a token that refuses, a transfer that needs more gas): alone, it is pre-flighted
        (an ``eth_call``, free) and sent with a batch's gas bound, so a hostile order does not
        make the operator pay for mined reverts, nor a heavy token run out of gas again."""
        self.sender = sender
        self.store = store
        self.max_batch = max_batch
        self.backlog_batch = max(max_batch, backlog_batch or max_batch)
        """Most matches a batch takes while more than ``max_batch`` wait (and the gas fits)."""
        self.receipts = receipts
        """Receipts are polled on the event loop with this client (None: the chain thread)."""
        self.mirror = mirror
        """Decoded receipts go to the mirror (``note_receipt``); it applies them in block order."""
        self._send_lock = asyncio.Lock()
        self.in_flight: set[str] = set()
        """Transaction hashes sent but not yet processed (the watcher leaves them alone)."""
        self.blocks = None if receipts is None else BlockReceipts(receipts, self.in_flight)
        self.ours = OwnTxs()
        """The settlement transactions this node sent, until final (``sdex.settlement.owned``)."""
        self.given_up: set[str] = set()
        """Sent, but counted lost: if it lands after all, the watcher applies its fills."""
        self.sent = 0
        self.lost = 0
        self.most_in_flight = 0
        """The most transactions that were sent and awaiting receipts at once."""
        self.gap_fills = 0
        """Transactions sent to fill a lost transaction's nonce (later ones waited on it)."""
        self.out_of_gas = 0
        """Backlog batches that failed with all their gas used: after one, backlog batches
        take the fallback-safe ``GAS_PER_MATCH`` again, whatever receipts teach."""
        self.gas_per_match_seen = 0
        """Most gas per match (beyond ``BASE_GAS``) of a settled batch of ``LEARN_FROM``+."""
        self.fees = Fees()
        """The fees signed with (read ahead under load: ``sdex.settlement.gas``)."""
        self.broadcaster = Broadcaster(sender, store, chain.exchange)
        """Sends on the chain thread (``sdex.settlement.broadcast``)."""
        self.launched_now = 0
        """Batches signed and recorded with no await (``_launch_now``)."""

    def _launch_now(self, batch: list[Match], times: FlightTimes) -> Launched | Exception | None:
        """Sign, record and queue ``batch``'s broadcast now, when no await is needed (fees
        and nonce known, the lane free, not a suspect lone match); None: ``_settle`` does.
        An exception raised on the way is returned (``_settle`` raises it)."""
        if self.receipts is None or self._send_lock.locked() or self.sender.next_nonce is None:
            return None
        if len(batch) == 1 and self.suspect is not None and self.suspect(batch[0]):
            return None
        fees = self.fees.cached(self.receipts)
        if fees is None:
            return None
        try:
            data, gas = self._encode(batch)
            with self.sender.lock:
                if self.sender.next_nonce is None:
                    return None
                signed = self.sender.sign(self.chain.exchange.address, data, gas, fees=fees)
            times.signed = time.perf_counter()
            self.launched_now += 1
            return self._record(batch, signed, gas, times)
        except Exception as e:  # (as if raised by ``_settle``: the matches go back)
            return e

    def _encode(self, batch: list[Match]) -> tuple[bytes, int]:
        """``batch``'s call data and gas bound. A lone match goes as ``matchOrders`` (less gas
        and chain time than a batch of one), with no pre-flight either: one that fails
        reverts, mined all the same (its nonce used), and its receipt's status says so; the
        match is then diagnosed from chain state like one a batch skipped."""
        ex = self.chain.exchange
        matches = [(m.resting, m.incoming, m.amounts.left_filled) for m in batch]
        lone = len(batch) == 1
        data = ex.encode_settlement(matches) if lone else ex.encode_batch(matches)
        return data, self._gas_limit(len(batch), lone)

    def _record(
        self, batch: list[Match], signed: SignedTx, gas: int, times: FlightTimes | None
    ) -> Launched:
        """(Lane held, just signed) Record ``signed`` and queue its broadcast once durable."""
        # Queued on the store's writer (urgent: no group window); once durable, its
        # done-callback queues the broadcast on the chain thread from there (records
        # commit in the order queued: nonce order), no hop through the event loop.
        recorded = self.store.add_settlement(
            signed.tx_hash,
            signed.nonce,
            signed.raw,
            [(m.resting.hash_hex, m.incoming.hash_hex) for m in batch],
        )
        self.in_flight.add(signed.tx_hash)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        for old in self.ours.add(signed.tx_hash):
            self.given_up.discard(old)
        self.given_up.discard(signed.tx_hash)  # the same transaction signed again
        self.sent += 1
        if self.mirror is not None:
            self.mirror.expect(signed.tx_hash)
        heads = self.mirror.announced.count if self.mirror is not None else None
        sending = asyncio.wrap_future(
            self.chain.submit_after(
                recorded, self.broadcaster.queued, self.broadcaster.send, signed, times
            )
        )
        return Launched(signed, sending, heads, gas)

    def per_match_gas(self) -> int:
        """The gas bound per match of a backlog batch: what settled batches used, with room
        for the fallback; ``GAS_PER_MATCH`` until a receipt told."""
        if not self.gas_per_match_seen or self.out_of_gas:
            return GAS_PER_MATCH
        return min(GAS_PER_MATCH, int(self.gas_per_match_seen * FALLBACK_FACTOR))

    def batch_size(self, waiting: int) -> int:
        """How many of ``waiting`` matches the next batch takes: ``max_batch``, or while
        more wait, up to ``backlog_batch`` as far as their gas fits one transaction."""
        if waiting <= self.max_batch:
            return waiting
        fits = fitting_batch(self.per_match_gas())
        return min(waiting, max(self.max_batch, min(self.backlog_batch, fits)))

    def _gas_limit(self, matches: int, lone: bool) -> int:
        if lone:
            return LONE_GAS
        per_match = GAS_PER_MATCH if matches <= self.max_batch else self.per_match_gas()
        return min(MAX_TX_GAS, BASE_GAS + per_match * matches)

    async def _launch(
        self, batch: list[Match], times: FlightTimes | None
    ) -> Launched | list[SettledMatch]:
        """``_launch_now``'s way with awaits: a suspect lone match pre-flighted (its results
        if that reverted: nothing sent), the lane's lock, fees or nonce read."""
        ex = self.chain.exchange
        data, gas = self._encode(batch)
        if len(batch) == 1 and self.suspect is not None and self.suspect(batch[0]):
            gas = self._gas_limit(1, False)
            try:  # before the lane's lock: it waits for no broadcast under way
                await self.chain.run(self.sender.preflight, ex.address, data)
            except ContractRevert as e:  # nothing sent: diagnosed like a skipped match
                reason = str(ex.decoder.decode(e))
                return [SettledMatch(m, Outcome.FAILED, None, None, reason) for m in batch]
        async with self._send_lock:  # nonce order: sign, record, queue the broadcast
            signed = await self._sign_next(ex.address, data, gas)
            if times is not None:
                times.signed = time.perf_counter()
            return self._record(batch, signed, gas, times)

    def give_up(self, tx_hash: str) -> None:
        """``tx_hash`` counted lost: if it lands after all, the watcher applies its fills
        (as anyone's); it is kept a reorg window from the head of now."""
        self.given_up.add(tx_hash)
        head = self.mirror.head if self.mirror is not None else None
        self.ours.landed(tx_hash, 0 if head is None else head.number)

    def forget_final(self) -> None:
        """Drop from ``ours`` (and ``given_up``) the transactions in final blocks: deeper
        than the mirror's reorg window below the head the watcher applied."""
        head = self.mirror.head if self.mirror is not None else None
        if self.mirror is not None and head is not None:
            for tx_hash in self.ours.prune(head.number - self.mirror.depth):
                self.given_up.discard(tx_hash)

    async def _sign_next(self, to: str, data: bytes, gas: int) -> SignedTx:
        """Sign the lane's next transaction. With the async client: the nonce and fees read
        and the transaction signed on the event loop (a key parsed once, ~0.1 ms a
        signature: a thread of its own would wait for the GIL longer), so that signing
        never waits behind a broadcast; without it, on the chain thread (one call)."""
        if self.receipts is None:
            return await self.chain.run(self.sender.sign, to, data, gas)
        fees = await self.fees.current(self.receipts)
        while True:
            if self.sender.next_nonce is None:
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
        if rpc is None or after is None or after <= nonce + 1:
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
                self.broadcaster.queued(filler)
                await self.chain.submit(self.broadcaster.send, filler)
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
        if self.receipts is None:
            try:
                return await self.chain.run(self.sender.wait, signed.tx_hash, RECEIPT_TIMEOUT)
            except ChainError:
                return None
        heads = self.mirror.announced if self.mirror is not None else None
        return await poll_receipt(
            self.receipts, self.sender.address, signed, suspect, heads, heads_before, self.blocks
        )
