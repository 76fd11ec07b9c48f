"""Signatures: ECDSA recovery off the event loop, in batches; EIP-1271 verdicts from the
chain, batched and cached.

Recovering an order's signer (secp256k1, in C through cffi, which releases the GIL: one
call an order, ``sdex.ingest.ecrecover``) is the largest single cost of accepting an
order. ``EcdsaBatcher`` collects the orders that reach that step during one turn of the
event loop and hands them to one worker thread together; the thread recovers them all (on
the other core, while the loop goes on parsing, hashing and booking) and wakes their
coroutines with one callback. A lone order (an idle loop) is recovered on the loop at the
end of its turn, as before: no thread to wake, no timer.

A contract maker's signature (EIP-1271) is the chain's to judge. ``Eip1271Batcher`` asks
the chain only for verdicts the mirror's ``SigCache`` lacks: a maker's orders that need one
within a short window share one ``getOrderStates`` ``eth_call`` (each maker of the window its
own, at once: one maker's slow view holds no other's) pinned to the chain's latest block
(``eth_blockNumber``, never below the mirror's head: a wallet deployed after the head the
node follows, its first order posted with the deployment's receipt in hand, has its code
there), and each verdict, valid or not, is cached. A valid verdict of a maker not tracked
yet also needs the maker's code hash: one ``eth_getCode`` batch for those makers, at the same block
(so code and verdict agree). So does an invalid verdict's (review78): where the maker has
code the verdict is its contract's answer, which may change the next block (an owner
rotated), so the peer that passed the order on is not blamed (``SigCache.by_contract``);
where it has none no wallet could take the signature. A flood of bad signatures costs at
most ``MAX_PARTS`` reads and code batches a window (a negative stands one block only). On
every block the tracked makers' code is read in one batch, and old verdicts expire
(``sdex.mirror.sigcache`` has the rules).

Verdicts are read on a client of their own with few connections (``CONTRACT_CONNECTIONS``):
a contract's ``isValidSignature`` is anyone's code, its read as slow as it (or a path to
the chain that holds it) makes it, and the reads of a hostile wallet's orders held all the
intake's connections, so every first-seen maker's read, and the settler's receipts, waited
for one (reads76). The per-block code reads go on the node's client (``code_rpc``): the
block's handling waits for them, never for a wallet's verdicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
from collections import Counter
from collections.abc import AsyncGenerator, Sequence

from eth_hash.auto import keccak

from sdex.chain import Exchange, OrderState
from sdex.chain.arpc import AsyncRpc
from sdex.chain.arpcturns import Turns
from sdex.chain.rpc import quantity
from sdex.errors import ChainError, RpcError
from sdex.ingest.cores import SpareCore
from sdex.ingest.ecrecover import signer_of
from sdex.ingest.readturns import CONTRACT_CONNECTIONS as CONTRACT_CONNECTIONS
from sdex.ingest.readturns import MAKER_READS, SUBMITTER, ReadKeys
from sdex.ingest.readturns import REST as REST
from sdex.ingest.states import StateBatcher, Tag
from sdex.mirror import Mirror
from sdex.order import SignedOrder

log = logging.getLogger("sdex.node")

Batch = list[tuple[SignedOrder, "asyncio.Future[bool | None]"]]

MAX_PARTS = 8
"""Reads a window of EIP-1271 verdicts makes at most (one per maker; the rest share one):
a window of orders in many makers' names costs the chain a few calls, not one each."""


def ecdsa_ok(signed: SignedOrder) -> bool | None:
    """True/False for a 65-byte ECDSA signature; None when it isn't one (EIP-1271 bytes).
    Remembered (``SIGNED_BY_CACHE``): the settler asks it again of every queued match's
    orders (``sdex.node.settle``: a contract maker's match is pre-flighted and sent alone),
    and a recovery is ~0.05-0.3 ms (it doubled the node's CPU per settled match on anvil)."""
    if len(signed.signature) != 65:
        return None
    return _signed_by(signed.hash, signed.signature, signed.order.maker)


SIGNED_BY_CACHE = 16_384
"""Recovered verdicts remembered (~0.3 KB each): the orders a node matched lately."""


@functools.lru_cache(maxsize=SIGNED_BY_CACHE)
def _signed_by(order_hash: bytes, signature: bytes, maker: str) -> bool:
    return signer_of(order_hash, signature) == maker


class _Worker:
    """The one thread (per process, started when first needed) that recovers batches."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, Batch, int]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, loop: asyncio.AbstractEventLoop, batch: Batch, chunk: int) -> None:
        """Recover ``batch`` on the thread; each of its parts (``parts``: ``chunk`` first,
        then each twice the last) is delivered to ``loop`` as soon as it is done. One
        hand-over per turn: waking the thread is what costs (on a busy machine the wake-up
        can preempt the loop while it holds the GIL)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sdex-ecdsa", daemon=True)
                self._thread.start()
        self._queue.put((loop, batch, chunk))

    def _run(self) -> None:
        while True:
            loop, batch, chunk = self._queue.get()
            for i, j in parts(len(batch), chunk):
                part = batch[i:j]
                results = [ecdsa_ok(signed) for signed, _ in part]
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    loop.call_soon_threadsafe(_deliver, part, results)


_WORKER = _Worker()


def parts(n: int, first: int) -> list[tuple[int, int]]:
    """The (start, end) of each part of a batch of ``n`` delivered apart: ``first`` orders,
    then each part twice the one before. The first verdicts come back as soon as before
    (the loop goes on with them while the rest are recovered), and a large batch (a busy
    loop's turn: several peers' chunks) wakes the loop O(log n) times, not n / ``first``
    (each delivery is a ``call_soon_threadsafe``: a write to the loop's self-pipe, a wake-up
    and the GIL taken from it)."""
    out, i, size = [], 0, max(1, first)
    while i < n:
        out.append((i, min(n, i + size)))
        i, size = i + size, 2 * size
    return out


def _deliver(batch: Batch, results: list[bool | None]) -> None:
    for (_, fut), ok in zip(batch, results, strict=True):
        if not fut.done():
            fut.set_result(ok)


class EcdsaBatcher:
    """Batches one intake's signature checks (one event loop's) for the worker thread."""

    def __init__(
        self,
        max_batch: int = 256,
        chunk: int = 8,
        thread_min: int = 4,
        spare_core: SpareCore | None = None,
    ) -> None:
        self.max_batch = max_batch
        self.chunk = chunk
        self.thread_min = thread_min
        """Fewer orders than this in a turn are recovered on the loop: waking the thread
        and the loop again costs about one recovery (30-55 us of CPU, measured)."""
        self.spare_core = spare_core or SpareCore()
        """Whether the worker would run beside the loop (``sdex.ingest.cores``): while the
        machine's cores are all taken, a turn's orders are recovered on the loop."""
        self.crowded = 0
        """Orders recovered on the loop because no core was spare (counted in ``inline``)."""
        self._pending: Batch = []
        self.batches = 0
        """Parts recovered and delivered by the worker thread (a turn's orders go in one
        hand-over, and come back in ``parts``)."""
        self.checked = 0
        """Orders checked on the worker thread."""
        self.handovers = 0
        """Batches handed to the worker thread (one a busy turn; each wakes it)."""
        self.inline = 0
        """Orders checked alone, on the loop."""
        self.shared = 0
        """Copies that waited for the same order's check already under way."""
        self._in_flight: dict[tuple[bytes, bytes, str], asyncio.Future[bool | None]] = {}

    async def ecdsa_ok(self, signed: SignedOrder) -> bool | None:
        """``ecdsa_ok(signed)``, computed on the worker thread with the others of this turn;
        while no core is spare (``spare_core``), on the loop at once."""
        if len(signed.signature) != 65:
            return None
        if self._crowded():
            # No core to spare: its turn's batch would be recovered on the loop anyway
            # (``_hand_over``), so it is recovered here, now, unless a copy is in flight:
            # no future, no wait for the turn's end, no task woken again (http62)
            key = (signed.hash, signed.signature, signed.order.maker)
            if key not in self._in_flight:
                self.inline += 1
                self.crowded += 1
                return ecdsa_ok(signed)
        fut, own = self._start(signed, asyncio.get_running_loop())
        return await self._wait(signed, fut, own)

    def _crowded(self) -> bool:
        """No core to spare (``spare_core``): a turn's checks are recovered on the loop."""
        return not self.spare_core.spare()

    async def _at_once(self, signed: SignedOrder) -> bool | None:
        """``ecdsa_ok(signed)`` recovered here and now, or a copy's check in flight shared."""
        key = (signed.hash, signed.signature, signed.order.maker)
        same = self._in_flight.get(key)
        if same is not None:
            self.shared += 1
            return await self._wait(signed, same, False)
        self.inline += 1
        self.crowded += 1
        return ecdsa_ok(signed)

    async def ecdsa_each(self, signeds: Sequence[SignedOrder]) -> AsyncGenerator[bool | None, None]:
        """``ecdsa_ok`` of each of ``signeds``, in order, each as soon as it is known; all
        queued at once (one hand-over), and no task per order (a peer's chunk); while no
        core is spare, each recovered on the loop as it is asked for (wait74: the hand-over
        ran them on the loop too, a turn later, and woke the caller a turn after that)."""
        if self._crowded():  # (as ``ecdsa_ok``: each at once, no wait for the turn's end)
            for so in signeds:
                yield None if len(so.signature) != 65 else await self._at_once(so)
            return
        loop = asyncio.get_running_loop()
        started = [self._start(so, loop) if len(so.signature) == 65 else None for so in signeds]
        try:
            for i, so in enumerate(signeds):
                st, started[i] = started[i], None  # (waited from here: ``_wait`` ends it)
                yield None if st is None else await self._wait(so, *st)
        finally:  # left early (cancelled): the own checks nobody waits for any more
            for so, st in zip(signeds, started, strict=True):
                if st is not None and st[1]:
                    self._end(so, st[0])

    def _start(
        self, signed: SignedOrder, loop: asyncio.AbstractEventLoop
    ) -> tuple[asyncio.Future[bool | None], bool]:
        """The check of ``signed``: another copy's under way (a second peer's: shared), or
        queued now for this turn's hand-over; and whether it is this caller's own."""
        key = (signed.hash, signed.signature, signed.order.maker)
        same = self._in_flight.get(key)
        if same is not None:
            self.shared += 1
            return same, False
        fut: asyncio.Future[bool | None] = loop.create_future()
        self._in_flight[key] = fut
        if not self._pending:
            loop.call_soon(self._hand_over, loop)  # after every coroutine ready this turn
        self._pending.append((signed, fut))
        if len(self._pending) >= self.max_batch:
            self._hand_over(loop)
        return fut, True

    async def _wait(
        self, signed: SignedOrder, fut: asyncio.Future[bool | None], own: bool
    ) -> bool | None:
        if not own:  # another copy's check: shared, unless its caller goes away
            try:
                return await asyncio.shield(fut)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                return ecdsa_ok(signed)  # the first copy's caller went away: check it here
        try:
            return await fut
        finally:  # (here, not a done-callback: that would be one more loop callback each)
            self._end(signed, fut)

    def _end(self, signed: SignedOrder, fut: asyncio.Future[bool | None]) -> None:
        key = (signed.hash, signed.signature, signed.order.maker)
        if self._in_flight.get(key) is fut:
            del self._in_flight[key]

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """In chunks: the first ones come back (and go on) while the rest are recovered.
        A few orders (fewer than ``thread_min``) are recovered here, on the loop: waking a
        thread costs about as much CPU as one recovery; and so are all of them while every
        core is taken (``spare_core``): there is nothing to overlap them with."""
        pending, self._pending = self._pending, []
        few = len(pending) < self.thread_min
        if few or not self.spare_core.spare():  # (a few: the clock and file left unread)
            self.inline += len(pending)
            self.crowded += 0 if few else len(pending)
            _deliver(pending, [ecdsa_ok(signed) for signed, _ in pending])
            return
        self.batches += len(parts(len(pending), self.chunk))
        self.checked += len(pending)
        self.handovers += 1
        _WORKER.put(loop, pending, self.chunk)


class Eip1271Batcher(StateBatcher):
    """Chain verdicts on contract makers' signatures (with the orders' states), batched per
    window as ``StateBatcher`` does, read at the mirror's head and cached in ``mirror.sigs``."""

    def __init__(
        self,
        rpc: AsyncRpc,
        exchange: Exchange,
        mirror: Mirror,
        max_batch: int = 256,
        max_wait: float = 0.002,
        code_rpc: AsyncRpc | None = None,
    ) -> None:
        """``rpc`` reads the verdicts (a client of their own: ``CONTRACT_CONNECTIONS``);
        ``code_rpc`` (default ``rpc``) the tracked makers' code on each block."""
        super().__init__(rpc, exchange, max_batch, max_wait)
        self.mirror = mirror
        self.code_rpc = code_rpc or rpc
        self.chunk = max_batch  # each row runs isValidSignature: keep a call's gas modest
        self.verdicts = 0
        """Verdicts read from the chain."""
        self.code_batches = 0
        """Per-block code reads (one JSON-RPC batch each)."""
        self.max_parts = MAX_PARTS
        """Reads a window's orders are split into at most (one per maker: ``MAX_PARTS``)."""
        self.split = 0
        """Reads more than one a window made because its orders had several makers."""
        self.keys = ReadKeys()
        """Whose turns a read takes, and their bounds (``sdex.ingest.readturns``; the node
        gives ``recorded``: a maker with an open order here)."""
        self.turns = Turns(MAKER_READS, self.keys.limit, self.keys.ceiling)
        """Reads in flight per maker, submitter and pool (``ReadKeys``)."""
        self._whose: dict[asyncio.Future[OrderState], str] = {}
        """The submitter of each order waiting for its window's read (``SUBMITTER``)."""

    @property
    def batches(self) -> int:
        """``getOrderStates`` calls sent for verdicts."""
        return self.calls

    async def refresh(self, head: int) -> set[str]:
        """A new head: expire old verdicts, and read the code of every tracked maker at
        ``head`` in one batch; the makers whose code changed are returned."""
        sigs = self.mirror.sigs
        sigs.expire(head)
        makers = sigs.makers()
        if not makers:
            return set()
        self.code_batches += 1
        results = await self.code_rpc.batch([("eth_getCode", [m, hex(head)]) for m in makers])
        codes = {m: _code_hash(m, r) for m, r in zip(makers, results, strict=True)}
        return sigs.apply_codes(codes, head)

    def share(self, maker: str) -> int:
        """The most of ``maker``'s verdict reads in flight at once now."""
        return self.turns.limit(f"maker:{maker}")

    def _tagged(self, fut: asyncio.Future[OrderState]) -> None:
        self._whose[fut] = SUBMITTER.get()

    async def has_code(self, makers: Sequence[str], head: int) -> dict[str, bool]:
        """Whether each of ``makers`` has code at ``head`` (one batch on ``code_rpc``)."""
        results = await self.code_rpc.batch([("eth_getCode", [m, hex(head)]) for m in makers])
        return {m: _code_hash(m, r) is not None for m, r in zip(makers, results, strict=True)}

    async def had_code(self, at: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """Of ``at``'s (maker, block) pairs, those where the maker had code (one batch); a
        pair the chain would not answer for (a pruned node's old state: a charge decided
        long after its read) counts as one with code: no proof against the peer."""
        results = await self.code_rpc.batch([("eth_getCode", [m, hex(b)]) for m, b in at])
        return {p for p, r in zip(at, results, strict=True) if _had_code(p, r)}

    async def _resolve(self, batch: list[tuple[SignedOrder, asyncio.Future[OrderState]]]) -> None:
        """A window's verdicts, one read per maker and submitter, all at once: a maker's rows
        run its own ``isValidSignature``, and a hostile wallet's (a view that burns its gas,
        or a read a path to the chain holds) shared the call of every other contract maker's
        order of its window, each waiting as long as it (reads76); each read takes its
        maker's, its submitter's and (a maker without a record) the pool's turns
        (``ReadKeys``). At most ``max_parts`` reads a window: past them, the makers the cache
        does not track (none of their signatures found valid lately: a flood of bad ones in
        many makers' names) share the last, which takes the turns of ``REST`` and of each of
        its makers and submitters. A maker's parts past its first (its orders from other
        submitters) come after every maker's first (review78b: one tracked wallet's orders
        from ``max_parts - 1`` client addresses pushed an honest maker's order into
        ``(rest)``, with a hostile wallet that held it, for one deployment)."""
        parted: dict[tuple[str, str], list[tuple[SignedOrder, asyncio.Future[OrderState]]]] = {}
        for so, fut in batch:
            parted.setdefault((so.order.maker, self._whose.pop(fut, "")), []).append((so, fut))
        tracks, nth, seen = self.mirror.sigs.tracks, {}, Counter[str]()
        for mk, who in parted:  # (a maker's parts past its first: after every one's first)
            nth[mk, who], seen[mk] = seen[mk], seen[mk] + 1
        ids = sorted(parted, key=lambda mw: (nth[mw] > 0, not tracks(mw[0])))  # (stable)
        keys = self.keys.keys
        parts = [(keys([mk], who), [mk], parted[mk, who]) for mk, who in ids[: self.max_parts - 1]]
        if rest := ids[self.max_parts - 1 :]:
            makers = sorted({mk for mk, _ in rest})
            rest_keys = [k for w in sorted({w for _, w in rest}) for k in keys(makers, w, True)]
            parts.append((rest_keys, makers, [e for mw in rest for e in parted[mw]]))
        self.split += len(parts) - 1
        latest = asyncio.ensure_future(self._latest())  # (one block for the window's parts)

        async def read(
            keys: Sequence[str], makers: Sequence[str], orders: Sequence[SignedOrder]
        ) -> list[OrderState]:
            block = await asyncio.shield(latest)
            async with self.turns.turns(keys):
                try:
                    return await self._read_at(orders, block)
                except asyncio.CancelledError:  # (given up: every order's deadline passed)
                    if len(makers) == 1:  # (a shared read's slowness is any one's: review78b)
                        self.keys.lapse(makers)
                    raise

        try:
            await asyncio.gather(
                *(self._settle(p, functools.partial(read, k, m)) for k, m, p in parts)
            )
        finally:
            latest.cancel()  # (every part's orders gave up before it answered: reads77)

    async def _latest(self) -> int:
        """The block verdicts are read at: the chain's latest, not the mirror's head (a
        wallet deployed since, its first order posted with the deployment's receipt in
        hand, has no code at the head); never below the head."""
        m = self.mirror
        head = -1 if m.head is None else m.head.number
        return max(quantity(await self.rpc.call("eth_blockNumber")), head)

    async def _read(self, orders: Sequence[SignedOrder]) -> list[OrderState]:
        return await self._read_at(orders, await self._latest()) if orders else []

    async def _read_in(
        self, orders: Sequence[SignedOrder], block: int, block_hash: str
    ) -> list[OrderState]:
        return await self._read_at(orders, block, {"blockHash": block_hash}) if orders else []

    async def _read_at(
        self, orders: Sequence[SignedOrder], block: int, named: Tag | None = None
    ) -> list[OrderState]:
        """Verdicts read at block ``block`` (``named``: the block as asked, by default its
        number), cached as of it."""
        m = self.mirror
        tag = hex(block) if named is None else named
        states = await self._order_states(orders, tag)
        # untracked makers' code at the same block: a valid verdict's, to track it; an
        # invalid one's, to tell a contract's answer (no peer's bad faith: review78)
        makers = sorted({so.order.maker for so in orders if not m.sigs.tracks(so.order.maker)})
        codes: dict[str, bytes | None] = {}
        if makers:
            results = await self.rpc.batch([("eth_getCode", [mk, tag]) for mk in makers])
            codes = {mk: _code_hash(mk, r) for mk, r in zip(makers, results, strict=True)}
        for so, st in zip(orders, states, strict=True):
            mk = so.order.maker
            code = codes[mk] if mk in codes else m.sigs.code.get(mk)
            m.sigs.put(so, st.signature_valid, code, block)
        self.verdicts += len(orders)
        return states


def _had_code(at: tuple[str, int], result: object) -> bool:
    """(``had_code``) Whether ``result`` says the maker had code at the block (an error
    answer: taken as so)."""
    try:
        return _code_hash(at[0], result) is not None
    except (ChainError, ValueError) as e:
        log.debug("code of %s at block %d not read: %s", at[0], at[1], e)
        return True


def _code_hash(maker: str, result: object) -> bytes | None:
    """keccak of an ``eth_getCode`` answer; None for no code. Anything else is an error."""
    if isinstance(result, Exception):
        raise result
    if not isinstance(result, str) or not result.startswith("0x") or len(result) % 2:
        raise RpcError(0, f"eth_getCode({maker}) answered something else than hex", None)
    try:
        code = bytes.fromhex(result[2:])
    except ValueError:
        raise RpcError(0, f"eth_getCode({maker}) answered bad hex", None) from None
    return keccak(code) if code else None
