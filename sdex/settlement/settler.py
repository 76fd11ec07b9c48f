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

One batch's transaction, from its pre-flight and signature to what its receipt says of each
match (recorded before its broadcast, refused for its nonce, lost): ``sdex.settlement.batchtx``.
The lane's signing, receipts and gap filling: ``sdex.settlement.lane``. Each receipt's logs
are decoded once (``batchtx``); the mirror takes the decoded fills and token transfers from
``Mirror.note_receipt`` when the watcher reaches the block. Each match's time is summed by
stage in ``stages`` (``sdex.settlement.stages``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from sdex.chain import Receipt, Sender
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.chain.asend import AsyncSends, ChainView
from sdex.chain.tx import SignedTx
from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.settlement.adoptflight import AdoptedFlights
from sdex.settlement.broadcast import Broadcaster
from sdex.settlement.diagnose import Verdict, diagnose
from sdex.settlement.gas import BatchGas, Fees, settlement_gas
from sdex.settlement.outcome import Outcome, SettledMatch
from sdex.settlement.owned import OwnTxs
from sdex.settlement.receipts import BlockReceipts
from sdex.settlement.signedout import SignedOut
from sdex.settlement.signing import Unsendable
from sdex.settlement.stages import FlightTimes, StageTimes
from sdex.settlement.take import (
    Held,
    Unpaid,
    Withdrawer,
    Withdrawn,
    held_back,
    take,
    withdrawn_from,
)
from sdex.settlement.unsignedlog import UnsignedLog
from sdex.store import Store

log = logging.getLogger("sdex.settlement")

__all__ = ["Outcome", "SettledMatch", "Settler", "Verdict", "diagnose", "settlement_gas"]


MAX_IN_FLIGHT = 4
"""Batches sent whose receipts are not processed yet (8 measured no better on anvil)."""
REFUSED_PAUSE = 0.2
"""Seconds no batch forms after a refused record (a store that keeps failing: no spin)."""
HELD_RECHECK = 0.5
"""Seconds between looks at a queue whose every match is held back (``held``): a hold ends
with its diagnosis (``wake``), or past its bound (the node's ``HOLD_BOUND``)."""
SettleCallback = Callable[[list[SettledMatch]], Awaitable[None]]


class Settler(AdoptedFlights):
    """Owns the operator's nonce lane (its signing, receipts and gaps: ``NonceLane``; a
    batch's transaction: ``BatchTx``; those a previous run left pooled: ``AdoptedFlights``);
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
        withdrawn: Withdrawer | None = None,
        unpaid: Unpaid | None = None,
        held: Held | None = None,
    ) -> None:
        self.chain = chain
        self.held = held
        """A queued match that waits (an order of it failed a settlement whose diagnosis is
        under way): not taken into a batch until the diagnosis ends (``wake``; then signed,
        or withdrawn if it found the order at fault), or its bound passed."""
        self.withdrawn = withdrawn
        """The matches of a batch an order of which was cancelled since it was made, or
        expires before its settlement can land: not signed (checked as its batch forms and
        right at the signature; ``sdex.settlement.take``)."""
        self.unpaid = unpaid
        """The matches of a batch whose makers' funds fall short: not signed either (take65)."""
        self.signed_out = SignedOut()
        """The matches signed and not yet reported, by ``id``: those the chain runs before a
        batch signed now (``sdex.node.funding``: what they take from and pay its makers,
        kept per account as they come and go)."""
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
        self._unsigned: dict[int, tuple[Match, float]] = {}
        """The matches taken into a batch and not signed yet, by ``id`` (and when each was
        submitted): one held back at its signature goes back to the queue (``_requeue``)."""
        self._unstarted: asyncio.Future[None] | None = None
        """The last batch formed, until its broadcast starts."""
        self._sending: asyncio.Future[None] | None = None
        """The last batch formed, until its broadcast ended (or it never went)."""
        self.stages = StageTimes(waiting=lambda: self._submitted)
        self._wake = asyncio.Event()
        self._unheld = asyncio.Event()
        self._full = asyncio.Event()
        """Set once a full batch waits: it stops the wait for the broadcast under way."""
        self._send_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._flights: set[asyncio.Task[None]] = set()
        self._gas_reads: set[asyncio.Task[None]] = set()
        self._adopted, self._to_adopt, self.adopted = set(), [], 0  # (``AdoptedFlights``)
        self.in_flight: set[str] = set()
        """Transaction hashes sent but not yet processed (the watcher leaves them alone)."""
        self.signed_views: dict[str, tuple[ChainView | None, SignedTx]] = {}
        """The node's view of the chain each transaction in flight was queued under (its
        settlement's chain: ``NonceLane._replace``), and it, kept while in flight."""
        self.displaced: set[str] = set()
        """Those of a replaced chain displaced on the new one (``sdex.settlement.stale``)."""
        self.cancels: dict[str, SignedTx] = {}
        """Settlements in flight cancelled at their nonce past their bound, and by what."""
        self.withheld: dict[str, str] = {}
        """Settlements never sent (again), cancelled at their nonce instead, and why."""
        self.stale, self.unsent_at = dict[str, str](), dict[str, float]()
        """Those a doubt held past ``HELD_SEND_MAX``; a start's left unsent in a doubt."""
        self.replaced_rows: dict[str, list[SignedTx]] = {}
        """A start's rows signed, in a doubt, before the latest at its nonce (doubt81)."""
        self.unsendables: dict[str, Unsendable] = {}
        """Why each settlement in flight must not be sent (``BatchTx._sign_and_queue``)."""
        self.superseded: set[str] = set()
        self.sends: set[asyncio.Future[Receipt | None]] = set()
        """Broadcasts queued (record, then send) and not ended: the nonce is read from the
        chain only once none is (``_sign_next``)."""
        self.blocks: BlockReceipts | None = BlockReceipts(receipts, self.in_flight)
        self.ours, self.given_up, self.kept = OwnTxs(), set[str](), set[str]()
        """The settlement transactions this node sent, until final (``sdex.settlement.owned``)."""
        self.sent = 0
        self.settled = 0
        self.failed = 0
        self.lost = 0
        """Settlements lost: the chain did not mine them and their nonce went to another
        transaction (/health's ``settlementsLost``); not one the node withheld and cancelled
        at its nonce (``withheld_cancels``: settle90)."""
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
        """Sends the chain refused for their nonce: "nonce too low" (another sender of the
        operator's key used it), their matches signed again at the chain's count; "nonce too
        high", sent again as signed, the nonces below filled (``NonceLane._over_gap``)."""
        self._refused_at = -REFUSED_PAUSE
        self.unsigned_log = UnsignedLog()  # (why nothing is signed now: /health, settle89)
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

    def wake(self) -> None:
        """Look at the queue again: a hold of some of its matches ended (``held``), or the
        doubt holding the lane's sends (``_undoubted``: looked at again at once)."""
        self._wake.set()
        self._unheld.set()

    def queued(self) -> list[Match]:
        """The matches waiting for a batch, not yet taken."""
        return list(self._queue)

    def unsigned(self) -> list[Match]:
        """The matches never signed yet: those queued, and those taken into a batch being
        formed or signed (hold70: a failed settlement's diagnosis withdraws those of an
        order it found at fault, each still checked at its signature)."""
        return [*self._queue, *(m for m, _ in self._unsigned.values())]

    def _requeue(self, matches: list[Match]) -> None:
        """``matches``, held back at their signature (``sdex.settlement.take.still``), first
        in the queue again, each with when it was submitted: taken when their hold ends."""
        if not matches:
            return
        now = time.perf_counter()
        self._submitted[:0] = [self._unsigned.pop(id(m), (m, now))[1] for m in matches]
        self._queue[:0] = matches
        self.idle.clear()
        self._wake.set()

    async def run(self) -> None:
        try:
            self._start_adopted()
            while True:
                if self._queue:  # (all held back: looked at again when a hold may be over)
                    with contextlib.suppress(TimeoutError):  # (not ``wait_for``: it can
                        async with asyncio.timeout(HELD_RECHECK):  # swallow a cancel)
                            await self._wake.wait()
                else:
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
                    ready, ready_at, back, back_at = held_back(
                        self._queue, self._submitted, self.held
                    )
                    if not ready:  # every match waiting is held back: until a hold ends
                        self._slots.release()
                        break
                    size = self.batch_size(len(ready))  # (a suspect one goes alone)
                    batch, submitted, rest, rest_at = take(ready, ready_at, size, self.suspect)
                    self._queue, self._submitted = back + rest, back_at + rest_at
                    taken = zip(batch, submitted, strict=True)  # (until signed: ``_requeue``)
                    self._unsigned.update((id(m), (m, t)) for m, t in taken)
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
            flights = [*self._flights, *self._adopted, *self._gas_reads]
            for t in flights:
                t.cancel()
            for t in flights:
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
        if not self._queue and not self._flights and not self._gas_reads:
            self.idle.set()

    async def _fly(self, batch: list[Match], submitted: list[float], times: FlightTimes) -> None:
        try:
            results, again = await self._settle_or_fail(batch, times)
        finally:
            times.resolve()  # (never broadcast: the next batch need not wait)
            self._slots.release()  # the next batch may go while these results are applied
        retry = True
        went: list[Match] = []  # (its matches that went out: those the stages count)
        try:
            while again:  # a backlog batch ran out of gas: again, with the fallback's room
                # (its matches as signed: review72, not one held back, queued, nor withdrawn)
                went += sent_out(results)
                await self._report(results)  # (each part reported before the next goes)
                # sized as it goes (blame44: a receipt meanwhile may raise the figure)
                await self._gas_learned()  # (its gas read, after its results: gas97)
                size = self.gas.split(len(again))[0]
                part, again = again[:size], again[size:]
                results, more = await self._settle_or_fail(part, None, room=True)
                if more and retry:  # (out of gas with room at the learned figure: once
                    again, retry = more + again, False  # more at the bound, learning
                    continue  # paused; review45: all reported failed, as if never sent)
                why = "out of gas"
                results += [SettledMatch(m, Outcome.FAILED, None, None, why) for m in more]
                self._unsigned_done(more)
        finally:
            self._unsigned_done(again)  # (a stop: never signed)
        went += sent_out(results)
        await self._report(results)
        # settle74: the batch's matches that went out only; one held back at its signature
        # (queued again: counted with the batch that takes it) or withdrawn unsigned was
        # counted too (``/health``'s stages: 5 matches for 3 settled)
        if len(went) < len(batch):  # (else each went: the batch and its times as they are)
            at = {id(m): t for m, t in zip(batch, submitted, strict=True)}
            batch, submitted = went, [at[id(m)] for m in went]
        incoming = [m.incoming.hash_hex for m in batch] if self.stages.timeline else []
        self.stages.add(submitted, times, time.perf_counter(), incoming)

    async def _settle_or_fail(
        self, batch: list[Match], times: FlightTimes | None, room: bool = False
    ) -> tuple[list[SettledMatch], list[Match]]:
        """``_settle`` of the matches not withdrawn (those given back unsent: ``withdrawn``),
        or on an error every match given back failed; those held back at the signature are
        queued again, in no result. And the matches signed in a backlog batch that ran out
        of gas (``_settle``'s None), to go again (``_fly``): the others' results stand."""
        dropped: list[SettledMatch] = []
        again: list[Match] = []
        try:
            while True:
                batch, gone = withdrawn_from(batch, self.withdrawn, self.unpaid)
                dropped += gone
                if not batch:
                    return dropped, []
                try:
                    got = await self._settle(batch, times, room)
                except Withdrawn as w:  # (at the signature: nothing signed)
                    batch, dropped = w.kept, dropped + w.gone
                    self._requeue(w.back)
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a chain outage: give every match back to the node
                    log.exception("settlement failed")
                    why = f"{type(e).__name__}: {e}"
                    got = [SettledMatch(m, Outcome.FAILED, None, None, why) for m in batch]
                if got is None:  # (unsigned again until their parts are signed: review72)
                    again = batch
                    self._unsigned_again(again)
                return dropped if got is None else dropped + got, again
        finally:  # (never signed: the pre-flight's, a chain outage's, the withdrawn)
            self._unsigned_done((*(() if again else batch), *(r.match for r in dropped)))

    def _unsigned_done(self, matches: Iterable[Match]) -> None:
        """``matches`` signed, reported or given up: out of ``unsigned``."""
        for m in matches:
            self._unsigned.pop(id(m), None)

    async def _report(self, results: list[SettledMatch]) -> None:
        if not results:  # (each match of the batch held back at its signature: queued)
            return
        for r in results:
            self.signed_out.pop(id(r.match), None)
        self.settled += sum(r.outcome is Outcome.SETTLED for r in results)
        self.failed += sum(
            r.outcome is Outcome.FAILED and not (r.withdrawn or r.withheld) for r in results
        )  # (a withheld one's in ``withheld_cancels``: once, settle89)
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


def sent_out(results: list[SettledMatch]) -> list[Match]:
    """The matches of ``results`` that went out in a transaction (not ``unsent``)."""
    return [r.match for r in results if not r.unsent]
