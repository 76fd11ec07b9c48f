"""The settler's nonce lane, its first half (``sdex.settlement.lane`` builds on it): the
next transaction signed in nonce order, at a nonce read from the chain that holds the node's
view (read again after a reorg or reset began, a failed send or a nonce refusal), and
broadcast on the event loop once its record is durable, one at a time in nonce order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

from sdex.chain import Receipt, Sender, SignedTx
from sdex.chain.aio import NotDone
from sdex.chain.arpc import AsyncRpc
from sdex.chain.asend import AsyncSends, ChainReplaced, ChainUnproven, ChainView, holds_view
from sdex.errors import ChainError
from sdex.mirror import Mirror
from sdex.settlement.broadcast import Broadcaster
from sdex.settlement.gas import Fees
from sdex.settlement.owned import OwnTxs
from sdex.settlement.receipts import quantity
from sdex.settlement.stages import FlightTimes
from sdex.settlement.stale import displace

log = logging.getLogger("sdex.settlement")

NOT_ITS_CHAIN = "the chain behind the URL is not the one it was signed for"
DOUBT_STEP = 1.0
"""Most seconds between looks at whether the chain's identity is still in doubt
(``SigningLane._undoubted``: a send of the lane's held meanwhile); looked at again at once
when woken (``Settler.wake``: the node calls it as a doubt ends). Before held79, every 50 ms."""
HELD_SEND_MAX = 30.0
"""Seconds a settlement's send may be held by a doubt (``SigningLane._undoubted``) and still
go out once the doubt ends: past it, it is cancelled at its nonce instead (a transfer of
nothing, ``BatchTx._withheld``), never sent. held79: a send held through a doubt of
minutes went out as it ended, its matches minutes old. A doubt that a poll or two flapped
ends in seconds (``AGREE`` polls); one that stands is said stuck at 60 s (``LONG``)."""


MAX_SENT_FLOORS = 1024
"""Sends whose ``SigningLane.sent_floor`` a lane keeps till their wait asks."""


class SigningLane:
    """The signing and broadcasts of ``NonceLane`` (``Settler`` builds these parts)."""

    sender: Sender
    receipts: AsyncRpc
    fees: Fees
    broadcaster: Broadcaster
    ours: OwnTxs
    sends: set[asyncio.Future[Receipt | None]]
    _send_lock: asyncio.Lock
    async_sends: AsyncSends
    """The broadcasts, on the event loop."""
    mirror: Mirror | None
    _last_broadcast: asyncio.Future[Receipt | None] | None
    signed_views: dict[str, tuple[ChainView | None, SignedTx]]
    undos = 0
    """Undoings of blocks the watcher began, reorgs and resets (``undone``)."""
    _nonce_view: ChainView | None = None
    """The view of the chain (``AsyncSends.viewed``) the lane's last signature was made in:
    moved since, the lane's nonce is the old chain's (``_sign_next`` reads it again)."""
    _nonce_undos = 0
    """The ``undos`` the lane's last signature was made with: more since, the lane's nonce
    may be past the chain's count (``_sign_next`` reads it again)."""
    displaced: set[str]
    """Settlements of a replaced chain pooled on the new one, displaced there (``stale``)."""
    mined_past = 0
    """One past the highest nonce of the lane's transactions it saw mined (``mined``), or
    the lowest count it believed since (``_believed``)."""
    in_flight: set[str]
    _adopted_at: dict[str, int] | None = None
    """Rows a start adopted into the lane (``adopted_into``), by hash, with their nonces:
    the lane's next nonce is past each while it is in flight (``_past_adopted``)."""
    doubt_holds = 0
    _unheld: asyncio.Event
    """Set when the lane's holds may have ended (``Settler.wake``): ``_undoubted`` looks."""
    """Sends and gap fills of the lane held while the chain's identity was in doubt
    (``_undoubted``)."""

    _sent_floors: dict[str, tuple[int, ChainView | None]] | None = None
    """Transactions queued to send in this run (``broadcast_after``), by hash: the mirror's
    head then, less its kept depth, and the chain's view (``sent_floor``; the oldest past
    ``MAX_SENT_FLOORS`` forgotten: fills and nudges have no wait that takes theirs)."""

    def _sent_at(self, signed: SignedTx) -> None:
        head = self.mirror.head if self.mirror is not None else None
        if self.mirror is None or head is None:
            return
        floors = self._sent_floors = self._sent_floors or {}
        floors[signed.tx_hash.lower()] = (
            head.number - self.mirror.depth,
            self.async_sends.viewed(),
        )
        while len(floors) > MAX_SENT_FLOORS:
            del floors[next(iter(floors))]

    def sent_floor(self, tx_hash: str) -> Callable[[], int | None] | None:
        """(``NonceLane._receipt``: its ``Tally.floor``) The highest block ``tx_hash``, queued to
        send in this run, cannot be mined in: the mirror's head as it was queued less its kept
        depth (a reorg deeper is not followed); None if not sent in this run (a start's row,
        adopted: mined maybe far below the window); asked, None once the watcher saw the chain
        replaced since it was sent (another chain's numbers: its wait judges it as any other,
        ``_keep_alive``). Forgotten here once asked."""
        if (kept := (self._sent_floors or {}).pop(tx_hash.lower(), None)) is None:
            return None
        floor, view = kept
        return lambda: floor if self.async_sends.viewed() == view else None

    def broadcast_after(
        self,
        recorded: Future[Any] | None,
        signed: SignedTx,
        times: FlightTimes | None,
        unsendable: Unsendable | None = None,
        recheck: Recheck | None = None,
    ) -> asyncio.Future[Receipt | None]:
        """(``_send_lock`` held) Broadcast ``signed`` on the event loop
        once ``recorded`` (its record on the store's writer) is durable and every broadcast
        queued before it ended: one at a time, in nonce order. The future raises
        ``NotDone`` if the record failed (never sent), ``ChainReplaced`` if the watcher saw
        the chain replaced before its turn came (never sent: resend68, an old chain's
        settlement waiting behind a send was sent to the chain that replaced it), or what
        ``recheck`` raises (awaited right before the send, once no doubt holds it, and
        again after any doubt its waits met, given the seconds doubts held it: ``BatchTx``'s,
        revert79; review79b: a doubt that the watcher's poll found in them, the send went out
        in it).
        ``unsendable`` (a settlement's), asked right after it: why it must not go (given
        the seconds a doubt held it), then cancelled at its nonce instead, never sent
        (``_withheld``; the future gives None)."""
        view = self.async_sends.viewed()  # (as signed: no await since)
        self.signed_views[signed.tx_hash] = (view, signed)
        self._sent_at(signed)
        return self._send_queued(recorded, signed, times, view, unsendable, recheck)

    def _send_queued(
        self,
        recorded: Future[Any] | None,
        signed: SignedTx,
        times: FlightTimes | None,
        view: ChainView | None,
        unsendable: Unsendable | None = None,
        recheck: Recheck | None = None,
    ) -> asyncio.Future[Receipt | None]:
        """(``_send_lock`` held) ``signed``'s broadcast, after every one queued before it,
        sent only while the node's view is ``view`` (the one it was signed in)."""
        before = self._last_broadcast
        sending = self._broadcast(recorded, before, signed, times, view, unsendable, recheck)
        task = asyncio.ensure_future(sending)
        self._last_broadcast = task
        return task

    async def _broadcast(
        self,
        recorded: Future[Any] | None,
        before: asyncio.Future[Receipt | None] | None,
        signed: SignedTx,
        times: FlightTimes | None,
        view: ChainView | None,
        unsendable: Unsendable | None = None,
        recheck: Recheck | None = None,
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
            held = 0.0
            while True:  # (a doubt begun in the recheck's waits holds it too: review79b)
                held += await self._undoubted(f"broadcast of {signed.tx_hash}")
                if recheck is not None:  # (its matches looked at again: revert79)
                    await recheck(held)
                if not self.async_sends.doubted():
                    break
            self._same_chain(signed, view)
            if unsendable is not None and (why := unsendable(held)):  # (held79)
                await self._withheld(signed, why)
                return None
            started = True  # (``send_async`` counts it started before its first await)
            return await self.broadcaster.send_async(self.async_sends, signed, times, self.said)
        finally:
            if not started:  # cancelled while it waited its turn (review30)
                self.broadcaster.unqueued()

    def said(self) -> int:
        """The answers of another chain so far (``ChainDoubt.said_count``: doubts said and
        ``wrong-chain`` polls, review81; 0 without a mirror): one said since a receipt was
        asked for (with a send, ``Broadcaster.send_async``; by a wait, ``poll_receipt``), its
        answer is not taken (doubt80)."""
        return self.mirror.doubts_said[0] if self.mirror is not None else 0

    async def _undoubted(self, what: str) -> float:
        """Until the chain's identity is no longer in doubt (``AsyncSends.doubted``; at once
        when it is not), the seconds it waited: ``what`` (a send of the lane's, a gap's fill
        and the reads it is decided on) is held meanwhile. The caller then checks the node's
        view: proven replaced, nothing of the old chain goes to the new one. doubt78: a
        broadcast queued behind another before the doubt began, a "nonce too high" refusal's
        resend and the transfers of nothing filling below it (``_over_gap``), a lost one's
        (``_heal_gap``) went out in the doubt, signed or sent against a chain that may be
        gone. Held here, a send holds those queued behind it (nonce order); the settler
        signs nothing new meanwhile (``Settler.held``)."""
        if not self.async_sends.doubted():
            return 0.0
        self.doubt_holds += 1
        log.warning(
            "%s held: %s", what, f"the chain's identity is in doubt ({self.async_sends.doubted()})"
        )
        loop = asyncio.get_running_loop()
        began = loop.time()
        while True:
            self._unheld.clear()  # (before the look: a wake after it is not lost)
            if not self.async_sends.doubted():
                break
            with contextlib.suppress(TimeoutError):  # (a doubt that ends without a wake)
                async with asyncio.timeout(DOUBT_STEP):
                    await self._unheld.wait()
        log.warning("%s goes on: the chain's identity is proven", what)
        return loop.time() - began

    async def _withheld(self, signed: SignedTx, why: str) -> None:
        """(``BatchTx``'s) ``signed`` is not sent (``why``): cancelled at its nonce."""
        raise NotImplementedError

    def _same_chain(self, signed: SignedTx, view: ChainView | None) -> None:
        """Raise ``ChainReplaced`` if the node's view of the chain moved since ``view`` (the
        watcher saw a reset: the store dropped ``signed``'s row, the reset's re-judging has
        its orders); the lane's nonce is read again (the new chain's count)."""
        if self.async_sends.viewed() != view:
            self.sender.forget_nonce()
            raise ChainReplaced(f"{signed.tx_hash} not sent: the chain was replaced")

    def undone(self) -> None:
        """The watcher begins to undo blocks (a reorg, or a reset; before the store's
        removal, no await between): a settlement of the lane's in one of them freed its
        nonce. The nonce is read again before the next signature, one already under way
        included (``_sign_next``). nonce75: forgotten only once the node applied the reorg
        (after the store's removal, the new branch's read, the funds' refresh), a match
        signed meanwhile took the old branch's next nonce, past the chain's count: on
        Hardhat "Nonce too high", the settlement lost and the wallet's IOC never traded."""
        self.undos += 1
        self.sender.forget_nonce()

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

    async def _sign_next(
        self, to: str, data: bytes, gas: int, check: Callable[[], None] | None = None
    ) -> SignedTx:
        """Sign the lane's next transaction (its nonce, when not known, read from the chain
        once no broadcast of the lane is under way): the nonce and fees read and the
        transaction signed on the event loop (a key parsed once, ~0.1 ms a signature: a
        thread of its own would wait for the GIL longer), so that signing never waits
        behind a broadcast. ``check`` is called right before the signature, after every
        await (it may raise: nothing signed; ``sdex.settlement.take.still``). A view moved
        since the last signature, or an undoing begun since (``undone``: a reorg; nonce75),
        has the nonce read again (review74a), and only from a chain holding the view's block
        (``_count``, settle74): ARCHITECTURE, "reorgs and resets"."""
        try:
            fees = await self.fees.current(self.receipts)
        except Exception as e:  # (nothing signed: the batch back unsent)
            raise NotSigned(f"fees not read: {type(e).__name__}: {e}") from e
        while True:
            view = self.async_sends.viewed()
            if view != self._nonce_view or self.undos != self._nonce_undos:
                self.sender.forget_nonce()
                self._nonce_view, self._nonce_undos = view, self.undos
            if self.sender.next_nonce is None:
                await self._sends_ended()
                self.sender.learn_nonce(self._past_adopted(await self._count(), view))
                continue  # (the view asked again after these awaits)
            with self.sender.lock:  # (forgotten meanwhile: read again, never on the loop)
                if self.sender.next_nonce is not None:
                    if check is not None:
                        check()
                    return self.sender.sign(to, data, gas, fees=fees)

    def adopted_into(self, tx: SignedTx) -> None:
        """``tx``, a row a previous run signed, adopted into the lane (``Settler.adopt``)."""
        if self._adopted_at is None:
            self._adopted_at = {}
        self._adopted_at[tx.tx_hash] = tx.nonce

    def _past_adopted(self, count: int, view: ChainView | None) -> int:
        """The lane's next nonce: the chain's pending ``count`` (read in ``view``), or one
        past each row a start adopted that is still in flight in ``view`` if higher.
        doubt82: Hardhat's pending count leaves out a pooled transaction whose fee cap is
        below the next block's base fee; the lane signed its next settlement at an adopted
        row's nonce, refused as underpriced, and the cancel then sent at that nonce could
        displace the adopted settlement. A row adopted in another view (a reset since: it
        stays in flight till its wait finds the chain replaced) is left out for good, as
        ``_count`` leaves it (doubt83: the lane signed past its nonce on the new chain,
        "nonce too high" on Hardhat, pooled behind a gap nobody fills elsewhere)."""
        if not (at := self._adopted_at):
            return count
        views, flying = self.signed_views, self.in_flight
        self._adopted_at = at = {
            t: n
            for t, n in at.items()
            if t in flying and (not (v := views.get(t, (None,))[0]) or v == view)
        }
        return max(count, *(n + 1 for n in at.values())) if at else count

    async def _count(self) -> int:
        """The lane's pending count on the chain behind the URL that holds the node's view
        (``count_in_view``: ``ChainReplaced``, ``ChainUnproven``; nothing signed: the reset's
        re-judging has the orders, or they go back unsent), believed as ``_believed`` says;
        an error of the read raised as ``NotSigned`` (the batch back unsent). Those the
        lane sent the old chain and the new one has pooled are displaced first
        (``sdex.settlement.stale``)."""
        view = self.async_sends.viewed()
        try:
            pending = await self._believed(view)
        except (ChainReplaced, ChainUnproven):
            raise
        except Exception as e:  # (a timeout, an answer that is no count: nothing signed)
            raise NotSigned(f"nonce not read: {type(e).__name__}: {e}") from e
        stale = [
            t for v, t in self.signed_views.values() if v and v != view and t.tx_hash in self.ours
        ]
        if view is not None and stale:  # (before the lane's count there comes to them)
            try:
                sends, fees = self.async_sends.rpc, self.fees.of
                self.displaced.update(
                    await displace(self.receipts, sends, self.sender, stale, view, fees)
                )
            except Exception as e:  # (their receipt waits try again)
                log.warning("the old chain's settlements not displaced: %s", e)
        return pending

    async def _believed(self, view: ChainView | None) -> int:
        """The pending count in ``view``, believed only within what the lane knows: at most
        ``signed_past`` (one past the highest nonce it signed) and at least ``mined_past``
        (one past the highest it saw mined). One out of them is read again, a request of its
        own: the second taken if within them, or if it is the same (another sender of the
        operator's key took nonces, a reorg undid the lane's: true twice). Two that differ
        prove nothing (``ChainUnproven``: nothing signed, the batch back unsent). count77:
        one answer of a backend that flapped was believed, ``LIE`` too high: the next
        settlement, signed there, stayed pooled past the gap (review77a left it unfilled)
        after its matches were counted lost, mined once the lane's count came to it (the
        same match settled twice, or a paid revert); one too low signed at a used nonce."""
        rpc, address, viewed = self.receipts, self.sender.address, self.async_sends.viewed
        first = await count_in_view(rpc, address, view, viewed)
        if self._within(first):
            return first
        second = await count_in_view(rpc, address, view, viewed)
        if second != first and not self._within(second):
            raise ChainUnproven(
                f"nonce not read: the chain answered {first}, then {second}"
                f" (the lane signed below {self.sender.signed_past}, saw {self.mined_past} mined)"
            )
        self.mined_past = min(self.mined_past, second)  # (a reorg's, believed: the new floor)
        return second

    def _within(self, count: int) -> bool:
        """Whether ``count`` is within what the lane knows (``_believed``); with nothing
        signed yet (a start), none is."""
        signed = self.sender.signed_past
        return signed is not None and self.mined_past <= count <= signed

    def mined(self, nonce: int) -> None:
        """A transaction of the lane's at ``nonce`` was mined (its receipt: ``mined_past``)."""
        self.mined_past = max(self.mined_past, nonce + 1)


Recheck = Callable[[float], Awaitable[None]]
"""A settlement's last look before its send (``BatchTx._recheck``), given the seconds a doubt
held it: it raises if the send must not go (``SigningLane.broadcast_after``)."""
Unsendable = Callable[[float], str]
"""Why a settlement signed and queued must not be sent now ("": it may), given the seconds a
doubt held its send (``SigningLane._broadcast``; ``BatchTx._sign_and_queue`` makes it)."""


class NotSigned(ChainError):
    """A read the lane's signature needs (its pending count, its fees) failed: a timeout, an
    answer that is no count. Nothing signed: the batch is given back unsent (count77: it
    came out of the settler's ``_settle`` as a chain outage, each match reported failed as
    if sent and diagnosed, a failure counted against both orders, pre-flighted and sent
    alone from then on; at ``MAX_SETTLE_FAILURES`` with blame, removed)."""


async def count_in_view(
    rpc: AsyncRpc, address: str, view: ChainView | None, viewed: Callable[[], ChainView | None]
) -> int:
    """``address``'s pending count on the chain behind ``rpc``, asked in one request with
    ``view``'s block (``viewed``: the node's view now). ``ChainReplaced`` if the view moved
    meanwhile, or that chain said another block there twice, the second a request of its own
    (settle74: a count read from a chain replaced behind the URL and not yet seen by the
    watcher, 190-400 ms on Hardhat, ``bench/settle74_send_window.py``, was that chain's own,
    and the old chain's next match, signed at it, was mined there). ``ChainUnproven`` if an
    answer was no block (null: a backend below it, whose count is no more current): neither
    that chain nor another proven. The count is the one asked with the block that held the
    view. settle77: one null was taken for another chain, the batch given back unsent, a
    pause, "the chain was replaced" (left76 made the same rule of ``AsyncSends.on_chain``)."""
    asks: list[tuple[str, list[Any]]] = [("eth_getTransactionCount", [address, "pending"])]
    if view is None:
        (pending,) = await rpc.batch(asks)
        if isinstance(pending, Exception):
            raise pending
        return quantity(pending)
    asks.append(("eth_getBlockByNumber", [hex(view[0]), False]))
    proven = True
    for _ in range(2):
        pending, at = await rpc.batch(asks)
        for answer in (pending, at):
            if isinstance(answer, Exception):
                raise answer
        if viewed() != view:
            raise ChainReplaced(f"nonce not read: {NOT_ITS_CHAIN}")
        if holds_view(view, at):
            return quantity(pending)
        proven = proven and isinstance(at, dict) and isinstance(at.get("hash"), str)
    if not proven:
        raise ChainUnproven(f"nonce not read: the chain answered no block {view[0]}")
    raise ChainReplaced(f"nonce not read: {NOT_ITS_CHAIN}")
