"""The settler's nonce lane (``sdex.settlement.settler`` forms the batches): each
settlement's calldata and gas, signed and recorded in nonce order, noted as sent, its receipt
waited for; a lost transaction's nonce filled."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future

from sdex.chain import Receipt, Sender, SignedTx
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.chain.tx import fees_of
from sdex.errors import ChainError
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
from sdex.settlement.owned import OwnTxs
from sdex.settlement.receipts import RECEIPT_TIMEOUT, BlockReceipts, poll_receipt, quantity
from sdex.settlement.stages import FlightTimes
from sdex.store import Store

log = logging.getLogger("sdex.settlement")

REFUSED_PAUSE = 0.2
"""Seconds no batch forms after a refused record (a store that keeps failing: no spin)."""


class Lane:
    """The operator's nonce lane: signing, records, receipts (``Settler`` builds on it)."""

    def __init__(
        self,
        chain: ChainThread,
        sender: Sender,
        store: Store,
        max_batch: int,
        receipts: AsyncRpc | None,
        mirror: Mirror | None,
        backlog_batch: int | None,
    ) -> None:
        self.chain = chain
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
        """Held on the loop while it signs, records and queues a transaction (nonce order)."""
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
        self.refused = 0  # batches never sent: the store refused their records
        self._refused_at = -REFUSED_PAUSE
        self.fills_stored = self.broadcaster.fills_stored
        """A mined settlement's fills, decoded and queued on the store by the chain thread
        when the receipt came with the send: ``on_result`` takes them (``pop``) and awaits
        the write instead of writing them again."""

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

    def _encode(self, batch: list[Match]) -> tuple[bytes, int]:
        """``batch``'s calldata and gas limit. A lone match goes as ``matchOrders`` (less gas
        and chain time than a batch of one), with no pre-flight either: one that fails
        reverts, mined all the same (its nonce used), and its receipt's status says so; the
        match is then diagnosed from chain state like one a batch skipped."""
        ex = self.chain.exchange
        matches = [(m.resting, m.incoming, m.amounts.left_filled) for m in batch]
        lone = len(batch) == 1
        data = ex.encode_settlement(matches) if lone else ex.encode_batch(matches)
        return data, self._gas_limit(len(batch), lone)

    def _sign_and_record(
        self, batch: list[Match], data: bytes, gas: int, times: FlightTimes, fees: tuple[int, int]
    ) -> tuple[SignedTx, Future[Receipt | None]]:
        """(Any thread; the nonce known) Sign the lane's next transaction and queue its record
        on the store's writer (urgent: no group window); once durable, the writer queues the
        broadcast on the chain thread (records commit in the order queued: nonce order,
        under the sender's lock), no hop through the event loop."""
        ex = self.chain.exchange
        with self.sender.lock:
            signed = self.sender.sign(ex.address, data, gas, fees=fees)
            times.signed = time.perf_counter()
            recorded = self.store.add_settlement(
                signed.tx_hash,
                signed.nonce,
                signed.raw,
                [(m.resting.hash_hex, m.incoming.hash_hex) for m in batch],
            )
            sending = self.chain.submit_after(
                recorded, self.broadcaster.queued, self.broadcaster.send, signed, times
            )
        return signed, sending

    def _note_sent(self, signed: SignedTx) -> int | None:
        """(On the loop, before the chain can answer about ``signed``) Out from now on; the
        heads announced so far."""
        self.in_flight.add(signed.tx_hash)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        for old in self.ours.add(signed.tx_hash):
            self.given_up.discard(old)
        self.given_up.discard(signed.tx_hash)  # the same transaction signed again
        self.sent += 1
        if self.mirror is not None:
            self.mirror.expect(signed.tx_hash)
        return self.mirror.announced.count if self.mirror is not None else None

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

    async def _nonce_and_fees(self) -> tuple[int, int]:
        """The fees to sign with, the nonce known by then (read on the event loop with the
        async client: never waiting behind a broadcast on the chain thread; without it the
        chain thread's sign reads them)."""
        if self.receipts is None:
            return await self.chain.run(self._read_lane)
        fees = await self.fees.current(self.receipts)
        if self.sender.next_nonce is None:
            pending = await self.receipts.call(
                "eth_getTransactionCount", self.sender.address, "pending"
            )
            self.sender.learn_nonce(quantity(pending))
        return fees

    def _read_lane(self) -> tuple[int, int]:
        """(Chain thread) The nonce learnt if unknown; the fees of the latest block."""
        rpc = self.sender.rpc
        if self.sender.next_nonce is None:
            pending = rpc.call("eth_getTransactionCount", self.sender.address, "pending")
            self.sender.learn_nonce(quantity(pending))
        return fees_of(rpc.call("eth_getBlockByNumber", "latest", False))

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
