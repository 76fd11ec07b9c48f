"""The settlement lane's broadcasts, on the event loop through the async client
(``sdex.chain.asend``), one at a time in nonce order (``NonceLane.broadcast_after``), each
with its receipt in the same round trip when the chain can give it.

- A chain that serves ``eth_sendRawTransactionSync`` (EIP-7966: anvil) answers a send with
  its receipt once mined: used for a send that no other waits behind, nor a backlog on a
  chain that does not mine on the send (a full batch still waiting, ``backlog``: its batch
  forms as this send starts and would wait behind the answer, i.e. the block, where it
  could share that block; anvil's ``anvil_getAutomine`` false: interval mining, asked at
  most every ``AUTOMINE_RECHECK``), with a short timeout
  (``SYNC_TIMEOUT``: mining paused or slow answers nothing; the transaction is in the pool
  and its receipt is polled, and sends go without it for a while; ``SYNC_STRIKES`` in a
  row turn it off). An answer that says the method is not served (-32601, -32004, a
  proxy's 403 or -32600: ``sdex.chain.asend.not_served``) sends the same bytes plainly at
  once and turns it off; another failure (a disconnect, "nonce too low") is the send's, as
  a plain send's would be, and leaves it on (review30); only a real answer turns it on.
  Off is not for ever: it is tried again ``SYNC_REPROBE`` seconds later (doubling while it
  stays off, up to ``SYNC_REPROBE_MAX``), and at once after a chain reset (``reprobe``:
  another chain, maybe another engine, behind the same URL), so that a wrong early guess
  (a slow first send, a proxy restarted) does not stick. A send that others wait behind
  goes plain (the chain mines meanwhile; its receipt is polled or read from its
  block's receipts).
- Otherwise (Hardhat, whose automine mines on the send) the send and a receipt ask go in one
  JSON-RPC batch when no other send waits, or the transaction is small (``SMALL_SEND``:
  under load, few matches a transaction): the ask from the event loop would wait behind
  the next send's mining.

A receipt in hand here has its fills decoded and queued on the store once a read on a
connection of its own gives it too (``fills_stored``, ``early``: ``NonceLane._receipt``,
``sdex.settlement.confirm``): durable while the receipt travels on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sdex.chain import Exchange, Receipt, Sender, SignedTx
from sdex.chain.asend import AsyncSends
from sdex.errors import TransactionFailed
from sdex.settlement.stages import FlightTimes
from sdex.store import Store, StoredFill
from sdex.storefills import own_fill

log = logging.getLogger("sdex.settlement")

RECEIPT_WITH_SEND_PAUSE = 16
"""Sends without the receipt asked with them after one that gave none (anvil, paused mining)."""
SMALL_SEND = 32_768
"""Hex characters of a raw transaction (~16 KB: a batch of about 16 matches) up to which a
send that others wait behind still asks for its receipt in its batch. A larger one goes
plain: its large receipt would be parsed before the next send while the chain idles (bulk
settlement keeps main's way of sending)."""
BATCH_MISSES = 3
"""Batched receipt asks in a row that found none before sends go without them for a while."""
SYNC_STRIKES = 3
"""Sync sends in a row that timed out (no answer between) before sync is turned off."""
SYNC_TIMEOUT = 0.5
"""Seconds a send by ``eth_sendRawTransactionSync`` waits for its receipt (anvil mines in
milliseconds; longer: mining is paused or starved, the receipt is polled)."""
AUTOMINE_RECHECK = 0.25
"""Seconds an answer of ``anvil_getAutomine`` is used for (asked only under a backlog)."""
SYNC_REPROBE = 30.0
"""Seconds after sync was turned off before a lone send tries it again."""
SYNC_REPROBE_MAX = 600.0
"""The longest wait between tries while the chain keeps not serving it (doubled each try)."""


class Broadcaster:
    """Sends the lane's signed transactions; ``send_async`` returns the receipt when it came
    with the send, else None (polled by the settler)."""

    def __init__(self, sender: Sender, store: Store, exchange: Exchange) -> None:
        self.sender = sender
        self.store = store
        self.exchange = exchange
        self.fills_stored: dict[str, tuple[list[StoredFill], Future[list[StoredFill]]]] = {}
        """A mined settlement's fills, decoded and queued on the store here when the receipt
        came with the send: the node takes them (``pop``) and awaits the write instead of
        writing them again."""
        self.backlog: Callable[[], bool] = lambda: False
        """Whether a full batch still waits to be sent (the settler's): no sync send then."""
        self._automine = (True, -AUTOMINE_RECHECK)
        """Whether the chain mines on the send, and when it was asked (monotonic)."""
        self.sync: bool | None = None
        """Whether the chain serves ``eth_sendRawTransactionSync`` (None: not tried yet)."""
        self.sync_sends = 0
        self.sync_timeouts = 0
        self._sync_strikes = 0
        """Sync sends in a row that timed out."""
        self.sync_probes = 0
        """Times sync was tried again after it was turned off."""
        self.reprobe_after = SYNC_REPROBE
        """Seconds off before the next try (doubled by each try that turns it off again)."""
        self._off_at = time.monotonic()
        self._reprobe_now = False
        self._waiting = 0
        """Broadcasts whose records are durable and not started yet (``_lock``)."""
        self._lock = threading.Lock()
        self._receipt_with_send = 0
        """Sends left before the receipt is asked with the send again (one gave none)."""
        self._misses = 0
        """Sends in a row whose batched receipt ask found none."""
        self.batched_asks = 0
        """Receipts asked in the send's own batch."""
        self.batched_misses = 0
        """Of those, the asks answered with none (Hardhat runs a batch's requests
        concurrently: now and then the ask before the mining ends): polled instead."""

    def queued(self, signed: SignedTx, times: FlightTimes | None = None) -> None:
        """``signed``'s record is durable, its broadcast queued now: a send waits."""
        with self._lock:
            self._waiting += 1
        if times is not None:
            times.queued = time.perf_counter()

    def unqueued(self) -> None:
        """A broadcast queued (``queued``) ended before it started (cancelled while it
        waited its turn): no send waits for it any more."""
        with self._lock:
            self._waiting -= 1

    def reprobe(self) -> None:
        """(Any thread) The chain was reset (maybe another engine now): sync is tried again
        at the next lone send."""
        self._reprobe_now = True

    def _turn_sync_off(self) -> None:
        if self.sync is None and self.sync_probes:  # a try again that failed: wait longer
            self.reprobe_after = min(SYNC_REPROBE_MAX, self.reprobe_after * 2)
        self.sync = False
        self._off_at = time.monotonic()

    def _maybe_reprobe(self) -> None:
        if self.sync is not False:
            self._reprobe_now = False
            return
        if self._reprobe_now or time.monotonic() - self._off_at >= self.reprobe_after:
            if self._reprobe_now:
                self.reprobe_after = SYNC_REPROBE
            self._reprobe_now = False
            self.sync = None
            self._sync_strikes = 0
            self._receipt_with_send = 0
            self.sync_probes += 1

    async def send_async(
        self,
        sends: AsyncSends,
        signed: SignedTx,
        times: FlightTimes | None = None,
        said: Callable[[], int] = lambda: 0,
    ) -> Receipt | None:
        """Send ``signed`` (queued with ``queued`` first) through the async client
        (``sends``), on the event loop, one at a time in nonce order; its receipt when it
        came with the send (see the module), else None: polled. None too when the chain's
        identity was in doubt as it was asked or is as it comes, or a doubt was said since
        (``said``: the answers of another chain so far; doubt80: a sync send's receipt,
        another chain's maybe, was taken as ``poll_receipt`` takes none: adopt79)."""
        alone = self._begin()
        doubts = -1 if sends.doubted() else said()  # (asked in a doubt, or one said since)
        backlog = self.backlog() and not await self._mines_on_send(sends)
        if times is not None:
            times.start_now()
        raw: Any = None
        asked = sent = False
        if self._plan_sync(alone and not backlog):
            raw, served = await sends.broadcast_sync(signed, SYNC_TIMEOUT)
            asked, sent = self._after_sync(served)
        if self._plan_batched(signed, alone, asked, sent):
            raw = await sends.broadcast_for_receipt(signed)
            asked = True
            self._after_batched(raw)
        if not (asked or sent):
            with contextlib.suppress(TransactionFailed):  # (mined and reverted: as ``send``)
                await sends.broadcast(signed)
        if times is not None:
            times.end_now()
        if not asked:
            if backlog or self._others_wait():
                return None
            try:
                raw = await sends.rpc.call("eth_getTransactionReceipt", signed.tx_hash)
            except Exception as e:  # sent all the same: the receipt is polled
                log.debug("no receipt at once for %s: %s", signed.tx_hash, e)
                return None
        if said() != doubts or sends.doubted():  # (doubt80: another chain's answer, maybe)
            return None  # (polled: its wait takes none in a doubt, ``poll_receipt``)
        return self._finish(signed, raw)

    async def _mines_on_send(self, sends: AsyncSends) -> bool:
        """Whether the chain mines a send at once (automine), for a chain that serves sync
        sends (anvil): asked at most every ``AUTOMINE_RECHECK`` s; unknown: True."""
        if not self.sync:
            return True
        mines, asked = self._automine
        if time.monotonic() - asked >= AUTOMINE_RECHECK:
            try:
                mines = await sends.rpc.call("anvil_getAutomine") is not False
            except Exception as e:  # (not served, or no answer: as before, sync)
                log.debug("anvil_getAutomine: %s", e)
                mines = True
            self._automine = (mines, time.monotonic())
        return mines

    def _begin(self) -> bool:
        """A send starts: whether no other waits behind it (then sync may be tried again)."""
        with self._lock:
            self._waiting -= 1
            alone = self._waiting == 0
        if alone:
            self._maybe_reprobe()
        return alone

    def _others_wait(self) -> bool:
        with self._lock:
            return self._waiting > 0

    def _plan_sync(self, alone: bool) -> bool:
        """Whether this send goes by ``eth_sendRawTransactionSync``."""
        if self._receipt_with_send > 0:
            self._receipt_with_send -= 1
            return False
        return alone and self.sync is not False

    def _after_sync(self, served: bool | None) -> tuple[bool, bool]:
        """A sync send's outcome learned from: (receipt asked, sent plainly)."""
        self.sync_sends += served is not False
        if served is False:  # the chain said it does not serve it: sent plainly
            self._turn_sync_off()
            log.info("the chain does not serve eth_sendRawTransactionSync")
            return False, True
        if served:
            self.sync = True
            self._sync_strikes = 0
            self.reprobe_after = SYNC_REPROBE
        else:  # no answer in time (sent, polled): without it for a while
            self.sync_timeouts += 1
            self._receipt_with_send = RECEIPT_WITH_SEND_PAUSE
            self._sync_strikes += 1
            if self._sync_strikes >= SYNC_STRIKES:  # (interval mining: 0.5 s a send)
                self._turn_sync_off()
                log.info("eth_sendRawTransactionSync timed out %d times: off", SYNC_STRIKES)
        return True, False

    def _plan_batched(self, signed: SignedTx, alone: bool, asked: bool, sent: bool) -> bool:
        """Whether send and receipt go in one round trip (no second request after mining)."""
        small = len(signed.raw) <= SMALL_SEND
        return (
            not (asked or sent)
            and self._receipt_with_send <= 0
            and not self.sync
            and (alone or small)
        )

    def _after_batched(self, raw: Any) -> None:
        self.batched_asks += 1
        self.batched_misses += raw is None
        # Hardhat's batch reads the receipt before the mining ends now and then (more
        # often on a busy machine): a miss alone is no reason to stop asking; misses in
        # a row are (a chain that mines after answering, or paused).
        self._misses = self._misses + 1 if raw is None else 0
        if self._misses >= BATCH_MISSES:
            self._misses = 0
            self._receipt_with_send = RECEIPT_WITH_SEND_PAUSE

    def _finish(self, signed: SignedTx, raw: Any) -> Receipt | None:
        if raw is None:
            return None
        try:  # (sent and mined: whatever fails here, the receipt is polled instead)
            receipt = Receipt.from_rpc(raw)
            if receipt.tx_hash.lower() != signed.tx_hash.lower():
                raise ValueError(f"a receipt of {receipt.tx_hash[:66]}")  # (a lying endpoint)
            return receipt  # (its fills queued once it is confirmed: ``early``, settle93)
        except Exception as e:
            log.debug("the receipt with the send of %s not used: %s", signed.tx_hash, e)
            return None

    def early(self, receipt: Receipt) -> Receipt:
        """A mined settlement's fills decoded here and queued on the store at once, durable
        while the receipt travels on (``fills_stored``): once confirmed on a connection of
        its own (``NonceLane._receipt``; settle93: queued before, on the word of the one
        backend that answered the send)."""
        if receipt.status == 1 and (fills := self.exchange.fills_as(receipt.logs, own_fill)):
            stored = self.store.add_fills_soon(fills)
            self.fills_stored[receipt.tx_hash] = (fills, stored)
        return receipt
