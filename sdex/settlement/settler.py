"""Settles matches on chain from the operator's key: one nonce lane, several batches in flight.

A batch of waiting matches goes out as one ``batchMatchOrders`` (one ``matchOrders`` when
alone). Nothing is sent after a pre-flight: a batch's contract call settles what it can and
reports each match that fails with ``MatchSkipped`` (a check that fails, or a token that
refuses the transfer: then the batch reruns one call frame per match), so the receipt says
which matches failed and why; a lone ``matchOrders`` that fails reverts, mined all the same
(its nonce used), and its match is diagnosed like a skipped one; one whose orders failed
a settlement before with no one found guilty is pre-flighted first (``suspect``).
(Measured on Hardhat: the ``eth_call`` pre-flight took 4-6 ms of a lone crossing's 12-19;
a batch of one instead costs ~8k more gas and ~1 ms more chain time than
``matchOrders``.) Batches take
``max_batch`` matches, and while more wait, up to ``backlog_batch`` as far as the gas fits
one transaction (learned from receipts, with room for the fallback). A batch forms once the
one before has started its broadcast: on a chain that mines on the send (Hardhat's
automine), the matches made meanwhile go out together in the next transaction instead of
one transaction each, queued. Under load (less than ``max_batch`` waiting) it forms only
once that broadcast has ended: a batch formed earlier would wait behind it on the chain
thread while the matches made meanwhile wait for the one after (a match's way: about 2.5
broadcasts, against 1.5). That end is on the chain thread, and there the next batch forms
(``_relay``): taken from the queue, signed with the fees and nonce in hand, its record
queued on the store's writer, which queues its broadcast once durable, as always; the
event loop hears of it after, no hop through it first (the loop forms it itself when fees
or nonce need a read, a lone match is ``suspect``, or a refused record's pause runs).
Before, the chain idled 3.2-4.9 ms p50 between two sends while the loop woke and formed,
signed and recorded the next. Nor does a match made meanwhile go at once as its own transaction
(pipelined on the lane, up to ``max_in_flight``): measured on Hardhat at 100 crossings/s,
p50 87-577 ms against 25-80 ms in the same minutes on a busy machine (an automine chain
mines a block a transaction: its fixed cost, ~4 ms, outweighs the wait).

Every transaction is signed, *recorded in the database*, then broadcast, so a node killed
mid-flight reconciles it from its receipt at restart and never sends it twice. Signing
(~0.1 ms; on the loop, or on the chain thread above) and recording are one at a time, in
nonce order (under the sender's lock; the record queued before the lock is let go); the store's
writer queues each broadcast on the chain thread once its record is durable (in that
order, no hop through the event loop), each with its receipt in the same round trip
when the chain can give it (``sdex.settlement.broadcast``; else polled, or read from its
block's receipts); the fills of a receipt in hand are decoded and queued on the store
there, at once. Up to ``max_in_flight`` batches are out and not yet processed. No fill counts
before its receipt. A match that fails (pre-flight revert, ``MatchSkipped``, failed
transaction, a transaction lost) is diagnosed from chain state: the guilty order is shrunk
or removed and the innocent one goes back to be matched again; the other matches of the
batch, and other batches, are not touched (a batch whose record the store refused never
left: its matches go back undiagnosed). A lost transaction whose nonce later ones of the
lane wait on has that nonce filled at once by a transfer of nothing to the operator itself.

Each receipt's logs are decoded once, here; the mirror takes the decoded fills and token
transfers from ``Mirror.note_receipt`` when the watcher reaches the block. Each match's
time is summed by stage in ``stages`` (``sdex.settlement.stages``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from sdex.chain import FillEvent, Receipt, Sender, SignedTx
from sdex.chain.aio import ChainThread, NotDone
from sdex.chain.arpc import AsyncRpc
from sdex.chain.tx import lone_tx_root
from sdex.errors import ContractRevert
from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.settlement.diagnose import Verdict, diagnose
from sdex.settlement.gas import (
    BASE_GAS,
    LEARN_FROM,
    settlement_gas,
)
from sdex.settlement.lane import REFUSED_PAUSE, Lane
from sdex.settlement.outcome import Outcome, SettledMatch, outcome, unsent
from sdex.settlement.stages import FlightTimes, StageTimes
from sdex.store import Store

log = logging.getLogger("sdex.settlement")

__all__ = ["Outcome", "SettledMatch", "Settler", "Verdict", "diagnose", "settlement_gas"]


MAX_IN_FLIGHT = 4
"""Batches sent whose receipts are not processed yet (8 measured no better on anvil)."""
SettleCallback = Callable[[list[SettledMatch]], Awaitable[None]]


@dataclass(slots=True)
class _Ticket:
    """The loop waits for ``after``'s broadcast to end; the chain thread may form the next
    batch then, with ``times``; ``taken`` resolves (on the loop) True once it did, False
    when it gave the batch back."""

    after: FlightTimes
    times: FlightTimes
    taken: asyncio.Future[bool]


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class Settler(Lane):
    """Owns the operator's nonce lane; ``submit`` matches, results come back via ``on_result``
    (one call at a time, in the order receipts arrive)."""

    def __init__(
        self,
        chain: ChainThread,
        sender: Sender,
        store: Store,
        on_result: SettleCallback,
        max_batch: int = 64,
        *,
        receipts: AsyncRpc | None = None,
        mirror: Mirror | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        backlog_batch: int | None = None,
        suspect: Callable[[Match], bool] | None = None,
    ) -> None:
        super().__init__(chain, sender, store, max_batch, receipts, mirror, backlog_batch)
        self.suspect = suspect
        """A match some order of which failed a settlement before with no one found guilty
        (a token that refuses, a transfer that needs more gas): alone, it is pre-flighted
        (an ``eth_call``, free) and sent with a batch's gas bound, so a hostile order does not
        make the operator pay for mined reverts, nor a heavy token run out of gas again."""
        self.on_result = on_result
        self.max_in_flight = max(1, max_in_flight)
        self._queue: list[Match] = []
        self._submitted: list[float] = []  # when each queued match was submitted
        self._unstarted: asyncio.Future[None] | None = None
        """The last batch formed, until the chain thread starts its broadcast."""
        self._last: FlightTimes | None = None
        """The last batch formed: ``ended`` resolves once its broadcast ended (or it never
        went)."""
        self._qlock = threading.Lock()
        """Guards ``_queue`` and ``_armed``: the chain thread takes a batch from the queue
        when a broadcast ends (``_relay``)."""
        self._armed: _Ticket | None = None
        """The loop waits for the broadcast under way to end: at that end the chain thread
        may form the next batch itself (``_relay``)."""
        self.relayed = 0
        """Batches formed, signed and recorded on the chain thread as the one before ended."""
        self._closed = False
        self.stages = StageTimes()
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        """Set once a full batch waits: it stops the wait for the broadcast under way."""
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._flights: set[asyncio.Task[None]] = set()
        self.settled = 0
        self.failed = 0
        self.largest_batch = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def submit(self, matches: Sequence[Match]) -> None:
        if matches:
            with self._qlock:
                self._queue.extend(matches)
                self._submitted.extend([time.perf_counter()] * len(matches))
            self.idle.clear()
            self._wake.set()
            if len(self._queue) >= self.max_batch:
                self._full.set()

    @property
    def relay_armed(self) -> bool:
        """Whether the chain thread forms the next batch as the broadcast under way ends."""
        return self._armed is not None

    def applies(self, tx_hash: str) -> bool:
        """Whether this settler applies ``tx_hash``'s outcome (the watcher then leaves the
        orders it filled alone): one of ours, not given up."""
        return tx_hash in self.ours and tx_hash not in self.given_up

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    # A free slot first, and the batch formed before started on its way
                    # (a chain that mines on the send, Hardhat's automine, answers one at
                    # a time): meanwhile the queue fills the next batch up, so matches
                    # made while the chain is busy go out together, one transaction, not
                    # one each queued behind the other's mining.
                    await self._slots.acquire()
                    if self._unstarted is not None:
                        await asyncio.shield(self._unstarted)
                    last = self._last
                    if (
                        last is not None
                        and last.ended is not None
                        and not last.ended.done()
                        and len(self._queue) < self.max_batch
                        and await self._wait_or_relay(last)
                    ):
                        continue  # formed on the chain thread as that broadcast ended
                    pause = self._refused_at + REFUSED_PAUSE - time.perf_counter()
                    if pause > 0:  # the store refused a record just now
                        await asyncio.sleep(pause)
                    with self._qlock:
                        batch, submitted = self._take()
                    if not batch:  # (the slot goes back: nothing waits any more)
                        self._slots.release()
                        continue
                    times = self._times()
                    times.formed = time.perf_counter()
                    self._start((batch, submitted), times, self._settle(batch, times))
                self._check_idle()
        finally:
            self._closed = True
            with self._qlock:
                self._armed = None
            self.fees.close()
            for t in list(self._flights):
                t.cancel()
            for t in list(self._flights):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    def _take(self) -> tuple[list[Match], list[float]]:
        """(``_qlock`` held) The next batch's matches and their submission times, taken."""
        size = self.batch_size(len(self._queue))
        batch, submitted = self._queue[:size], self._submitted[:size]
        del self._queue[:size], self._submitted[:size]
        return batch, submitted

    def _times(self) -> FlightTimes:
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        return FlightTimes(loop.create_future(), loop, 0.0, ended, on_end=self._relay)

    def _start(
        self,
        taken: tuple[list[Match], list[float]],
        times: FlightTimes,
        settle: Awaitable[list[SettledMatch]],
    ) -> None:
        """(On the loop) The flight of a batch (``taken``: its matches and their submission
        times): ``settle`` gives its results."""
        batch, submitted = taken
        self.largest_batch = max(self.largest_batch, len(batch))
        times.started.add_done_callback(self._started)
        self._unstarted = times.started
        self._last = times
        task = asyncio.create_task(self._fly(batch, submitted, times, settle), name="settlement")
        self._flights.add(task)
        task.add_done_callback(self._landed)

    async def _wait_or_relay(self, last: FlightTimes) -> bool:
        """Wait until ``last``'s broadcast ended, or a full batch waits; True when the chain
        thread formed the next batch itself as that broadcast ended (``_relay``: the slot
        taken went with it)."""
        assert last.ended is not None
        ticket = _Ticket(last, self._times(), asyncio.get_running_loop().create_future())
        self._full.clear()
        full = asyncio.create_task(self._full.wait())
        with self._qlock:
            self._armed = ticket
        try:
            await asyncio.wait((last.ended, full, ticket.taken), return_when=FIRST_COMPLETED)
        finally:
            full.cancel()
            with self._qlock:
                mine = self._armed is ticket
                if mine:
                    self._armed = None
        return False if mine else await asyncio.shield(ticket.taken)

    def _relay(self, ended: FlightTimes) -> None:
        """(Chain thread, as ``ended``'s broadcast ends) When the loop waits for that end
        (``_wait_or_relay``), the next batch is formed, signed and its record queued here at
        once, no hop through the event loop: the writer queues its broadcast on this thread
        once durable, as ever. Left to the loop when fees or nonce need a read, a lone match
        is suspect (pre-flighted), a refused record's pause runs, or the loop holds the lane."""
        now = time.perf_counter()
        with self._qlock:
            ticket = self._armed
            fees = self.fees.fresh(time.monotonic())
            if (
                ticket is None
                or ticket.after is not ended
                or not self._queue
                or fees is None
                or self.sender.next_nonce is None
                or self._send_lock.locked()
                or now < self._refused_at + REFUSED_PAUSE
                or (len(self._queue) == 1 and self.suspect and self.suspect(self._queue[0]))
            ):
                return
            self._armed = None
            batch, submitted = self._take()
        ticket.times.formed = now
        try:  # next on this thread: after this broadcast's receipt went to the loop
            self.chain.then(self._form, ticket, batch, submitted, fees)
        except Exception:  # (the chain thread shut down): the loop forms it
            self._give_back(ticket, batch, submitted)

    def _form(
        self, ticket: _Ticket, batch: list[Match], submitted: list[float], fees: tuple[int, int]
    ) -> None:
        """(Chain thread) ``batch``, taken by ``_relay``: signed, its record queued (the
        writer commits it while this thread reads the ended broadcast's receipt). Measured
        on Hardhat at 100 crossings/s: the chain idled 2.9-4.2 ms p50 between two sends,
        against 4.0-6.0 when the loop formed the batch; formed here only once that receipt
        had gone to the loop, 3.8-7.4 (the record then waits for the receipt's parse)."""
        times = ticket.times
        try:
            data, gas = self._encode(batch)
            signed, sending = self._sign_and_record(batch, data, gas, times, fees)
        except Exception:  # (a bug): the loop forms it
            log.exception("forming a settlement on the chain thread")
            self._give_back(ticket, batch, submitted)
            return
        # Posted before the writer can queue the broadcast behind this call: the loop
        # notes the transaction as sent before any answer of the chain about it comes.
        times.loop.call_soon_threadsafe(
            self._relayed, ticket, batch, submitted, signed, gas, sending
        )

    def _give_back(self, ticket: _Ticket, batch: list[Match], submitted: list[float]) -> None:
        """(Chain thread) ``batch`` back at the queue's head; the loop forms it."""
        with self._qlock:
            self._queue[:0], self._submitted[:0] = batch, submitted
        ticket.times.loop.call_soon_threadsafe(_resolve, ticket.taken, False)

    def _relayed(
        self,
        ticket: _Ticket,
        batch: list[Match],
        submitted: list[float],
        signed: SignedTx,
        gas: int,
        sending: Future[Receipt | None],
    ) -> None:
        """(On the loop) A batch formed on the chain thread: its flight, as if formed here."""
        _resolve(ticket.taken, True)
        if self._closed:  # (recorded: a restart reconciles it)
            return
        self.relayed += 1
        if self.receipts is not None:
            self.fees.read_ahead(self.receipts)
        heads = self._note_sent(signed)
        landing = self._land(batch, signed, gas, sending, heads, ticket.times)
        self._start((batch, submitted), ticket.times, landing)

    def _started(self, started: asyncio.Future[None]) -> None:
        if self._unstarted is started:
            self._unstarted = None

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._flights.discard(task)
        self._check_idle()

    def _check_idle(self) -> None:
        if not self._queue and not self._flights:
            self.idle.set()

    async def _fly(
        self,
        batch: list[Match],
        submitted: list[float],
        times: FlightTimes,
        settle: Awaitable[list[SettledMatch]],
    ) -> None:
        try:
            try:
                results = await settle
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a chain outage: give every match back to the node
                log.exception("settlement failed")
                results = [
                    SettledMatch(m, Outcome.FAILED, None, None, f"{type(e).__name__}: {e}")
                    for m in batch
                ]
        finally:
            times.resolve()  # (never broadcast: the next batch need not wait)
            self._slots.release()  # the next batch may go while these results are applied
        self.settled += sum(r.outcome is Outcome.SETTLED for r in results)
        self.failed += sum(r.outcome is Outcome.FAILED for r in results)
        # Called at once, with no await since ``_settle`` noted the receipt: from then on the
        # watcher may apply the block, and the node must have confirmed the matches first
        # (it does before its own first await). No lock here: waiting for another
        # settlement's results to be written would be such an await; the node orders the
        # awaited part of its results itself.
        try:
            await self.on_result(results)
        finally:
            if results and results[0].tx_hash is not None:
                self.fills_stored.pop(results[0].tx_hash, None)
        incoming = [m.incoming.hash_hex for m in batch] if self.stages.timeline else []
        self.stages.add(submitted, times, time.perf_counter(), incoming)

    async def _settle(self, batch: list[Match], times: FlightTimes) -> list[SettledMatch]:
        data, gas = self._encode(batch)
        if len(batch) == 1 and self.suspect is not None and self.suspect(batch[0]):
            gas = self._gas_limit(1, False)
            try:  # before the lane's lock: it waits for no broadcast under way
                await self.chain.run(self.sender.preflight, self.chain.exchange.address, data)
            except ContractRevert as e:  # nothing sent: diagnosed like a skipped match
                reason = str(self.chain.exchange.decoder.decode(e))
                return [SettledMatch(m, Outcome.FAILED, None, None, reason) for m in batch]
        async with self._send_lock:  # nonce order: sign, record, queue the broadcast
            while True:
                fees = await self._nonce_and_fees()
                with self.sender.lock:  # (forgotten meanwhile: read again, never on the loop)
                    if self.sender.next_nonce is not None:
                        signed, sending = self._sign_and_record(batch, data, gas, times, fees)
                        break
            heads = self._note_sent(signed)
        return await self._land(batch, signed, gas, sending, heads, times)

    async def _land(
        self,
        batch: list[Match],
        signed: SignedTx,
        gas: int,
        sent: Future[Receipt | None],
        heads: int | None,
        times: FlightTimes,
    ) -> list[SettledMatch]:
        """``signed`` (``batch``'s settlement) was queued to go out once recorded (``sent``):
        its receipt, and what the chain did with each match."""
        sending = asyncio.wrap_future(sent)
        suspect = False
        early: Receipt | None = None
        try:
            early = await sending
        except NotDone as e:  # not recorded, never broadcast: the matches go back
            log.error("settlement %s could not be recorded: %s", signed.tx_hash, e)
            self.in_flight.discard(signed.tx_hash)
            self.ours.discard(signed.tx_hash)
            self.sent -= 1
            if self.mirror is not None:
                self.mirror.unexpect(signed.tx_hash)
            self.sender.give_back(signed.nonce)
            self.refused += 1
            self._refused_at = time.perf_counter()
            return unsent(batch, str(e))
        except Exception as e:  # unknown whether the node took it: its receipt will say
            log.warning("broadcasting %s failed: %s", signed.tx_hash, e)
            self.fees.forget()
            suspect = True
        times.resolve()  # the broadcast is over (or its fate unknown): the next may form
        try:
            receipt = early or await self._receipt(signed, suspect, heads)
            times.receipt = time.perf_counter()
        finally:
            self.in_flight.discard(signed.tx_hash)
            if self.mirror is not None:
                self.mirror.unexpect(signed.tx_hash)
        if receipt is None:
            self.lost += 1
            self.give_up(signed.tx_hash)
            self.store.set_settlement_status(signed.tx_hash, "dropped")
            log.warning("settlement %s lost (nonce %d): re-judging", signed.tx_hash, signed.nonce)
            await self._heal_gap(signed.nonce)
            return [
                SettledMatch(m, Outcome.FAILED, None, signed.tx_hash, "transaction lost")
                for m in batch
            ]
        if receipt.status == 1 and len(batch) >= LEARN_FROM:
            per_match = (receipt.gas_used - BASE_GAS) // len(batch)
            self.gas_per_match_seen = max(self.gas_per_match_seen, per_match)
        elif receipt.status != 1 and len(batch) > self.max_batch and receipt.gas_used >= gas:
            self.out_of_gas += 1
            log.warning("a batch of %d ran out of gas: learning turned off", len(batch))
        # No await from here to the node's ``on_result``: the mirror expects the transaction
        # until ``note_receipt``, and once noted the watcher may apply its block, which must
        # not come before the node confirms the matches. (The fills the chain thread queued
        # may commit before this status write: a restart reconciles a settlement still
        # "pending" from its receipt, and stores a fill once.)
        status = "mined" if receipt.status == 1 else "failed"
        self.store.set_settlement_status(signed.tx_hash, status)
        self.ours.landed(signed.tx_hash, receipt.block_number)
        self.forget_final()
        root = lone_tx_root(bytes.fromhex(signed.raw.removeprefix("0x")))
        fills: list[FillEvent] = []
        if (decoded := self.fills_stored.get(signed.tx_hash)) is not None:
            fills = decoded[0]  # (decoded on the chain thread, and being written)
        elif receipt.status == 1:
            fills = self.chain.exchange.fills(receipt.logs)
        if receipt.status == 1 and self.mirror is not None:  # the watcher takes them from here
            self.mirror.note_receipt(receipt, fills, root)
        return outcome(self.chain.exchange, batch, receipt, signed.tx_hash, fills)
