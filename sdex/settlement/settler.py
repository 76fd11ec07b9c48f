"""Settles matches on chain from the operator's key: one nonce lane, several batches in flight.

A batch of waiting matches goes out as one ``batchMatchOrders`` (one ``matchOrders`` when
alone). Nothing is sent after a pre-flight: a batch's contract call settles what it can and
reports each match that fails with ``MatchSkipped`` (a check that fails, or a token that
refuses the transfer: then the batch reruns one call frame per match), so the receipt says
which matches failed and why; a lone ``matchOrders`` that fails reverts, mined all the same
(its nonce used), and its match is diagnosed like a skipped one; one whose orders failed
a settlement before with no one found guilty is pre-flighted first (``suspect``).
(Measured on Hardhat: the ``eth_call`` pre-flight took 4-6 ms of a lone crossing's 12-19; a
batch of one costs ~8k more gas and ~1 ms more chain time than ``matchOrders``.) A match an
order of which was soft-cancelled while it waited is not signed: given back unsent
(``sdex.settlement.take``). Batches take ``max_batch`` matches, and while more wait, up to
``backlog_batch`` as far as the gas fits one transaction (learned from receipts, with room
for the fallback; or more, slim, without it: one that runs out of gas goes again at once in
batches with the room, its matches not judged, as does one with the room that runs out all
the same, the learning then paused; ``sdex.settlement.gas.BatchGas``). A batch forms once the
one before has started its broadcast: on a chain that mines on the send (Hardhat's
automine), the matches made meanwhile go out together in the next transaction instead of
one transaction each, queued. Under load (less than ``max_batch`` waiting) it forms only
once that broadcast has ended: a batch formed earlier would wait behind it on the chain
thread while the matches made meanwhile wait for the one after (a match's way: about 2.5
broadcasts, against 1.5). Nor does a match made meanwhile go at once as its own transaction
(pipelined on the lane, up to ``max_in_flight``): on Hardhat at 100 crossings/s, p50 87-577
ms against 25-80 ms (an automine chain mines a block a transaction: ~4 ms fixed cost).

Every transaction is signed, *recorded in the database*, then broadcast, so a node killed
mid-flight reconciles it from its receipt at restart and never sends it twice. Signing (on
the event loop, ~0.1 ms) and recording are one at a time, in nonce order; each broadcast
goes on the event loop through the async client once its record is durable, one at a time in
nonce order (``NonceLane.broadcast_after``; no worker thread, no ``requests``), each with
its receipt in the same round trip when the chain can give it
(``sdex.settlement.broadcast``; else polled, or read from its block's receipts); the fills
of a receipt in hand are decoded and queued on the store there, at once. Up to
``max_in_flight`` batches are out and not yet processed. No fill counts before its receipt.
A match that fails (pre-flight revert, ``MatchSkipped``, failed transaction, a transaction
lost) is diagnosed from chain state: the guilty order is shrunk or removed and the innocent
one goes back to be matched again; the other matches of the batch, and other batches, are
not touched (a batch whose record the store refused never left: its matches go back
undiagnosed). One left pooled unmined goes again at higher fees (``sdex.settlement.replace``);
a lost one that later ones wait on has its nonce filled by a transfer of nothing (not while
pooled). A send refused for its nonce ("nonce too low": another sender of the operator's key
used it, e.g. a devnet deployed again under the node) can never land: its matches are signed again
(``NONCE_TRIES``) at the chain's count, read once every broadcast of the lane under way has
ended, so no nonce goes out twice.

The lane's signing, receipts and gap filling: ``sdex.settlement.lane``. Each receipt's logs
are decoded once, here; the mirror takes the decoded fills and token transfers from
``Mirror.note_receipt`` when the watcher reaches the block. Each match's time is summed by
stage in ``stages`` (``sdex.settlement.stages``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from sdex.chain import Receipt, Sender
from sdex.chain.aio import ChainThread, NotDone
from sdex.chain.arpc import AsyncRpc
from sdex.chain.asend import AsyncSends
from sdex.chain.rpc import quantity
from sdex.chain.tx import SignedTx, lone_tx_root, ran_out_of_gas, refused_for_nonce
from sdex.errors import ContractRevert, RpcError
from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.settlement.broadcast import Broadcaster
from sdex.settlement.diagnose import Verdict, diagnose
from sdex.settlement.gas import BatchGas, Fees, settlement_gas
from sdex.settlement.lane import NonceLane
from sdex.settlement.outcome import Outcome, SettledMatch, outcome, refused_order, unsent
from sdex.settlement.owned import OwnTxs
from sdex.settlement.receipts import BlockReceipts
from sdex.settlement.stages import FlightTimes, StageTimes
from sdex.settlement.take import Withdrawn, still, take, withdrawn_from
from sdex.store import Store, StoredFill, own_fill

log = logging.getLogger("sdex.settlement")

__all__ = ["Outcome", "SettledMatch", "Settler", "Verdict", "diagnose", "settlement_gas"]


MAX_IN_FLIGHT = 4
"""Batches sent whose receipts are not processed yet (8 measured no better on anvil)."""
NONCE_TRIES = 4
"""Sends of one batch the chain may refuse for their nonce before its matches count lost."""
REFUSED_PAUSE = 0.2
"""Seconds no batch forms after a refused record (a store that keeps failing: no spin)."""
SettleCallback = Callable[[list[SettledMatch]], Awaitable[None]]


class Settler(NonceLane):
    """Owns the operator's nonce lane (its signing, receipts and gaps: ``NonceLane``);
    ``submit`` matches, results come back via ``on_result`` (one call at a time, in the order
    receipts arrive)."""

    def __init__(
        self,
        chain: ChainThread,
        sender: Sender,
        store: Store,
        on_result: SettleCallback,
        max_batch: int = 64,
        *,
        receipts: AsyncRpc,
        sends: AsyncRpc | None = None,
        mirror: Mirror | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        backlog_batch: int | None = None,
        suspect: Callable[[Match], bool] | None = None,
        withdrawn: Callable[[Match], bool] | None = None,
    ) -> None:
        self.chain = chain
        self.withdrawn = withdrawn
        """A match an order of which was soft-cancelled since it was made: not signed (checked
        as its batch forms and right at the signature; ``sdex.settlement.take``)."""
        self.suspect = suspect
        """A match some order of which failed a settlement before with no one found guilty
        (a token that refuses, a transfer that needs more gas): alone, it is pre-flighted
        (an ``eth_call``, free) and sent with a batch's gas bound, so a hostile order does not
        make the operator pay for mined reverts, nor a heavy token run out of gas again."""
        self.sender = sender
        self.store = store
        self.on_result = on_result
        self.max_batch = max_batch
        self.backlog_batch = max(max_batch, backlog_batch or max_batch)
        """Most matches a batch takes while more than ``max_batch`` wait (and the gas fits)."""
        self.max_in_flight = max(1, max_in_flight)
        self.receipts = receipts
        """Receipts are polled and the nonce read on the event loop with this client."""
        self.async_sends = AsyncSends(sends or receipts, sender)
        """Broadcasts on the event loop through this client (``sends``, else ``receipts``)."""
        self._last_broadcast = None
        self.mirror = mirror
        """Decoded receipts go to the mirror (``note_receipt``); it applies them in block order."""
        self._queue: list[Match] = []
        self._submitted: list[float] = []  # when each queued match was submitted
        self._unstarted: asyncio.Future[None] | None = None
        """The last batch formed, until its broadcast starts."""
        self._sending: asyncio.Future[None] | None = None
        """The last batch formed, until its broadcast ended (or it never went)."""
        self.stages = StageTimes(waiting=lambda: self._submitted)
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        """Set once a full batch waits: it stops the wait for the broadcast under way."""
        self._send_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._flights: set[asyncio.Task[None]] = set()
        self.in_flight: set[str] = set()
        """Transaction hashes sent but not yet processed (the watcher leaves them alone)."""
        self.sends: set[asyncio.Future[Receipt | None]] = set()
        """Broadcasts queued (record, then send) and not ended: the nonce is read from the
        chain only once none is (``_sign_next``)."""
        self.blocks: BlockReceipts | None = BlockReceipts(receipts, self.in_flight)
        self.ours, self.given_up = OwnTxs(), set[str]()
        """The settlement transactions this node sent, until final (``sdex.settlement.owned``)."""
        self.sent = 0
        self.settled = 0
        self.failed = 0
        self.lost = 0
        self.most_in_flight = 0
        """The most transactions that were sent and awaiting receipts at once."""
        self.largest_batch = 0
        self.gap_fills = 0
        """Transactions sent to fill a lost transaction's nonce (later ones waited on it)."""
        self.gas = BatchGas(max_batch, self.backlog_batch)
        """Batches' gas bounds and sizes, learned from receipts (``sdex.settlement.gas``)."""
        self.fees = Fees(None if mirror is None else mirror.announced)
        """The fees signed with (read ahead under load: ``sdex.settlement.gas``)."""
        self.broadcaster = Broadcaster(sender, store, chain.exchange)
        """Sends on the event loop (``sdex.settlement.broadcast``)."""
        self.broadcaster.backlog = lambda: len(self._queue) >= self.max_batch
        self.withdrawn_matches = 0  # never signed: an order of each soft-cancelled meanwhile
        self.refused = 0  # batches never sent: the store refused their records
        self.nonce_refusals = 0
        """Sends the chain refused for their nonce ("nonce too low": another sender of the
        operator's key used it), their matches signed again at the chain's count."""
        self._refused_at = -REFUSED_PAUSE
        self.idle = asyncio.Event()
        self.idle.set()
        self.fills_stored = self.broadcaster.fills_stored
        """A mined settlement's fills, decoded and queued on the store by the broadcaster
        when the receipt came with the send: ``on_result`` takes them (``pop``) and awaits
        the write instead of writing them again."""

    def submit(self, matches: Sequence[Match]) -> None:
        if matches:
            self._queue.extend(matches)
            self._submitted.extend([time.perf_counter()] * len(matches))
            self.idle.clear()
            self._wake.set()
            if len(self._queue) >= self.max_batch:
                self._full.set()

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
                    if (
                        self._sending is not None
                        and not self._sending.done()
                        and len(self._queue) < self.max_batch
                    ):
                        # Under load (less than a full batch waits): not a batch that would
                        # wait on the lane behind the broadcast under way (its mining, on
                        # an automine chain), while matches made meanwhile wait for the
                        # one after it: it forms once the lane is free
                        # and takes them too (order-to-receipt ~1.5 sends, not 2.5). A
                        # batch that fills up meanwhile goes at once, as under bulk.
                        self._full.clear()
                        full = asyncio.create_task(self._full.wait())
                        try:
                            await asyncio.wait(
                                (self._sending, full), return_when=asyncio.FIRST_COMPLETED
                            )
                        finally:
                            full.cancel()
                    pause = self._refused_at + REFUSED_PAUSE - time.perf_counter()
                    if pause > 0:  # the store refused a record just now
                        await asyncio.sleep(pause)
                    size = self.batch_size(len(self._queue))  # (a suspect one goes alone)
                    batch, submitted, self._queue, self._submitted = take(
                        self._queue, self._submitted, size, self.suspect
                    )
                    self.largest_batch = max(self.largest_batch, len(batch))
                    loop = asyncio.get_running_loop()
                    times = FlightTimes(
                        loop.create_future(), loop, time.perf_counter(), loop.create_future()
                    )
                    times.started.add_done_callback(self._started)
                    self._unstarted = times.started
                    self._sending = times.ended
                    flight = self._fly(batch, submitted, times)
                    task = asyncio.create_task(flight, name="settlement")
                    self._flights.add(task)
                    task.add_done_callback(self._landed)
                self._check_idle()
        finally:
            self.fees.close()
            for t in list(self._flights):
                t.cancel()
            for t in list(self._flights):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    def per_match_gas(self) -> int:
        """The gas bound per match of a backlog batch with room for the fallback."""
        return self.gas.per_match()

    def batch_size(self, waiting: int) -> int:
        """How many of ``waiting`` matches the next batch takes (``BatchGas.batch_size``)."""
        return self.gas.batch_size(waiting)

    def _started(self, started: asyncio.Future[None]) -> None:
        if self._unstarted is started:
            self._unstarted = None

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._flights.discard(task)
        self._check_idle()

    def _check_idle(self) -> None:
        if not self._queue and not self._flights:
            self.idle.set()

    async def _fly(self, batch: list[Match], submitted: list[float], times: FlightTimes) -> None:
        try:
            results = await self._settle_or_fail(batch, times)
        finally:
            times.resolve()  # (never broadcast: the next batch need not wait)
            self._slots.release()  # the next batch may go while these results are applied
        if results is None:  # a backlog batch ran out of gas: again, with the fallback's room
            rest, retry = batch, True
            while True:  # (each part reported before the next goes: see below)
                # sized as it goes (blame44: a receipt meanwhile may raise the figure)
                size = self.gas.split(len(rest))[0]
                part, rest = rest[:size], rest[size:]
                got = await self._settle_or_fail(part, None, room=True)
                if got is None and retry:  # (out of gas with room at the learned figure: once
                    rest, retry = part + rest, False  # more at the bound, learning paused;
                    continue  # review45: all reported failed, as if never sent)
                why = "out of gas"
                results = got or [SettledMatch(m, Outcome.FAILED, None, None, why) for m in part]
                if not rest:
                    break
                await self._report(results)
        await self._report(results)
        incoming = [m.incoming.hash_hex for m in batch] if self.stages.timeline else []
        self.stages.add(submitted, times, time.perf_counter(), incoming)

    async def _settle_or_fail(
        self, batch: list[Match], times: FlightTimes | None, room: bool = False
    ) -> list[SettledMatch] | None:
        """``_settle`` of the matches not withdrawn (those given back unsent: ``withdrawn``),
        or on an error every match given back failed."""
        dropped: list[SettledMatch] = []
        while True:
            batch, gone = withdrawn_from(batch, self.withdrawn)
            dropped += gone
            if not batch:
                return dropped
            try:
                got = await self._settle(batch, times, room)
            except Withdrawn:  # (one withdrawn as it was being signed: nothing signed)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a chain outage: give every match back to the node
                log.exception("settlement failed")
                why = f"{type(e).__name__}: {e}"
                got = [SettledMatch(m, Outcome.FAILED, None, None, why) for m in batch]
            return None if got is None else dropped + got  # (None: all again, ``_fly``)

    async def _report(self, results: list[SettledMatch]) -> None:
        self.settled += sum(r.outcome is Outcome.SETTLED for r in results)
        self.failed += sum(r.outcome is Outcome.FAILED and not r.withdrawn for r in results)
        self.withdrawn_matches += sum(r.withdrawn for r in results)
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

    async def _sign_and_queue(
        self, batch: list[Match], data: bytes, gas: int, times: FlightTimes | None
    ) -> tuple[SignedTx, int | None, asyncio.Future[Receipt | None]]:
        """(``_send_lock`` held) Sign ``batch``'s transaction, queue its record on the store
        and its broadcast after it: the signed transaction, the mirror's head count before,
        and the broadcast's future."""
        ex = self.chain.exchange
        check = None if self.withdrawn is None else lambda: still(batch, self.withdrawn)
        signed = await self._sign_next(ex.address, data, gas, check)
        if times is not None:
            times.signed = time.perf_counter()
        # Queued on the store's writer (urgent: no group window); once durable, the
        # broadcast goes, after every one queued before it (nonce order).
        recorded = self.store.add_settlement(
            signed.tx_hash,
            signed.nonce,
            signed.raw,
            [(m.resting.hash_hex, m.incoming.hash_hex) for m in batch],
        )
        self.in_flight.add(signed.tx_hash)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        self.ours.add(signed.tx_hash)
        self.sent += 1
        if self.mirror is not None:
            self.mirror.expect(signed.tx_hash)
        heads = self.mirror.announced.count if self.mirror is not None else None
        sending = self.broadcast_after(recorded, signed, times)  # (in nonce order)
        self.sending(sending)
        return signed, heads, sending

    def _never_sent(self, signed: SignedTx) -> None:
        """``signed`` never reached the chain (its record refused, or the chain refused it):
        not in flight, not ours, not sent."""
        self.in_flight.discard(signed.tx_hash)
        self.ours.discard(signed.tx_hash)
        self.sent -= 1
        if self.mirror is not None:
            self.mirror.unexpect(signed.tx_hash)

    async def _settle(
        self, batch: list[Match], times: FlightTimes | None, room: bool = False
    ) -> list[SettledMatch] | None:
        """What the chain did with ``batch``'s matches; None if it was a backlog batch that
        ran out of gas (mined, reverted whole: its matches go again with the fallback's room)."""
        ex = self.chain.exchange
        matches = [(m.resting, m.incoming, m.amounts.left_filled) for m in batch]
        # A lone match goes as ``matchOrders`` (less gas and chain time than a batch of
        # one), with no pre-flight either: one that fails reverts, mined all the same (its
        # nonce used), and its receipt's status says so; the match is then diagnosed from
        # chain state like one a batch skipped.
        lone = len(batch) == 1
        data = ex.encode_settlement(matches) if lone else ex.encode_batch(matches)
        gas, slim = self.gas.limit(len(batch), lone, room)
        if lone and self.suspect is not None and self.suspect(batch[0]):
            gas = self.gas.limit(1, False)[0]
            at: int | None = None  # (the block it runs at: its evidence is read there)
            try:  # before the lane's lock: it waits for no broadcast under way
                fees = await self.fees.current(self.receipts)  # (those it is signed with)
                at = quantity(await self.receipts.call("eth_blockNumber"))
                await self.async_sends.preflight(ex.address, data, gas, fees, hex(at))
            except ContractRevert as e:  # nothing sent: diagnosed like a skipped match
                err = ex.decoder.decode(e)
                named = refused_order(err)  # (the order its check refused, if it says)
                return [SettledMatch(m, Outcome.FAILED, None, None, str(err), refused=named,
                                     block=at) for m in batch]  # fmt: skip
            except (RpcError, OSError, TimeoutError, ValueError) as e:
                if isinstance(e, RpcError) and ran_out_of_gas(e):  # (geth: no revert data)
                    why = str(e)
                    return [SettledMatch(m, Outcome.FAILED, None, None, why, block=at)
                            for m in batch]  # fmt: skip
                # the node's trouble, not the order's (review32: diagnosed as failed with no
                # one guilty, an honest contract maker's order went after three): given
                # back, the next batch after a pause
                log.warning("pre-flight of a suspect match not answered: %s", e)
                self._refused_at = time.perf_counter()
                return unsent(batch, f"pre-flight not answered: {e}")
        for attempt in range(1, NONCE_TRIES + 1):
            async with self._send_lock:  # nonce order: sign, record, queue the broadcast
                if attempt > 1:  # refused for its nonce: signed again at the chain's count
                    self.sender.forget_nonce()
                signed, heads, sending = await self._sign_and_queue(batch, data, gas, times)
            suspect = False
            early: Receipt | None = None
            nonce_taken = False
            try:
                early = await sending
            except NotDone as e:  # not recorded, never broadcast: the matches go back
                log.error("settlement %s could not be recorded: %s", signed.tx_hash, e)
                self._never_sent(signed)
                self.sender.give_back(signed.nonce)
                self.refused += 1
                self._refused_at = time.perf_counter()
                return unsent(batch, str(e))
            except Exception as e:  # unknown whether the node took it: its receipt will say
                refused = isinstance(e, RpcError) and refused_for_nonce(e, low_only=True)
                if refused and attempt < NONCE_TRIES and not await self.chain_knows(signed):
                    # The chain refused it and does not hold it (its answer to a second
                    # copy of a landed one is the same: review28): its nonce is used
                    # (another sender of this key, e.g. a devnet deployed again under the
                    # node), so it can never land.
                    # The same matches are signed again, once every send of ours under way
                    # ended, at the chain's count (``_sign_next``).
                    log.warning(
                        "settlement %s refused for its nonce %d (%s): signed again",
                        signed.tx_hash, signed.nonce, e,
                    )  # fmt: skip
                    self._never_sent(signed)
                    self.store.set_settlement_status(signed.tx_hash, "dropped")
                    self.nonce_refusals += 1
                    continue
                log.warning("broadcasting %s failed: %s", signed.tx_hash, e)
                self.fees.forget()
                suspect, nonce_taken = True, refused
            break
        if times is not None:
            times.resolve()  # the broadcast is over (or its fate unknown): the next may form
        try:
            signed, receipt = await self._receipt(signed, suspect, heads, early)
            if times is not None:
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
            await self._heal_gap(signed)
            why = "transaction lost" + (": its nonce taken by another sender" * nonce_taken)
            return [
                SettledMatch(m, Outcome.FAILED, None, signed.tx_hash, why, nonce_taken=nonce_taken)
                for m in batch
            ]
        again = self.gas.ran_out(len(batch), receipt.status, receipt.gas_used, gas, slim)
        # No await from here to the node's ``on_result``: the mirror expects the transaction
        # until ``note_receipt``, and once noted the watcher may apply its block, which must
        # not come before the node confirms the matches. (The fills the broadcaster queued
        # may commit before this status write: a restart reconciles a settlement still
        # "pending" from its receipt, and stores a fill once.)
        status = "mined" if receipt.status == 1 else "failed"
        self.store.set_settlement_status(signed.tx_hash, status)
        self.ours.landed(signed.tx_hash, receipt.block_number)
        self.forget_final()
        if again:
            return None
        root = lone_tx_root(bytes.fromhex(signed.raw.removeprefix("0x")))
        fills: list[StoredFill] = []
        if (decoded := self.fills_stored.get(signed.tx_hash)) is not None:
            fills = decoded[0]  # (decoded by the broadcaster, and being written)
        elif receipt.status == 1:  # (the node's stored fills at once: no copy made of each)
            fills = self.chain.exchange.fills_as(receipt.logs, own_fill)
        if receipt.status == 1 and len(fills) == 2 * len(batch):  # (every match settled)
            self.gas.learn(len(batch), receipt.gas_used)
        if receipt.status == 1 and self.mirror is not None:  # the watcher takes them from here
            self.mirror.note_receipt(receipt, fills, root)
        return outcome(self.chain.exchange, batch, receipt, signed.tx_hash, fills)
