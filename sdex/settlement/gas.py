"""Gas limits of settlement transactions (a bound per match, fallback included; a backlog's
slim batches without the fallback's room, sent again with it if they run out; one with the
room that runs out sent again at ``GAS_PER_MATCH``, the learning paused), and the fees they
are signed with."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.chain.tx import MAX_BASE_FEE, fees_for, fees_of

log = logging.getLogger("sdex.settlement")

FEE_TTL = 1.0
"""Seconds a read (or announced) base fee is signed with (the fee cap is twice it: safe for
6 full blocks)."""
FEE_READ_AHEAD = 0.5
"""Seconds after a read when a settlement signed with it also reads them again, beside."""


GAS_PER_MATCH = 250_000
"""A bound on one match's gas in a batch, fallback included: a token failure reruns the
batch one call frame per match after the inline attempt (bench/gas.py: ~118k inline for
two fresh makers, about as much again per own frame)."""
LONE_GAS = 200_000
"""A lone match (measured: ~134k packed, ~137k as `matchOrders`, for two new orders of fresh
makers)."""
BASE_GAS = 60_000
MAX_TX_GAS = 16_000_000
"""Under Hardhat's per-transaction cap of 16,777,216 (the default max_batch is 64 matches)."""
FALLBACK_FACTOR = 2.2
"""A batch's gas per match, fallback included, over the most gas per match a settled batch
used so far (the fallback repeats the inline attempt, one call frame per match)."""
LEARN_FROM = 8
"""Batches of at least this many matches teach the gas per match (in smaller ones the
transaction's own cost weighs too much)."""
SLIM_FACTOR = 1.5
"""A slim backlog batch's gas per match over the most a settled batch used: room for
costlier matches than those seen (fresh makers ~120k a match against warm ones' ~89k), none
for the fallback (which needs ``FALLBACK_FACTOR``). One that runs out of gas (a token
refused: the fallback had no room; or costlier matches) reverts whole, and its matches are
sent again at once in batches with the fallback's room: nothing re-judged."""
SLIM_FAIL_EVERY = 32
"""Slim batches go while at most one backlog batch in this many was a slim one that ran out
of gas (each costs a reverted transaction): a stream of refusing tokens sends them safe."""
ROOM_FAIL_PAUSE = 600.0
"""Seconds backlog batches take ``GAS_PER_MATCH`` again after one with the fallback's room
ran out of gas (its matches costlier than the learned figure's, and the fallback ran: any
maker that empties its balance before its match settles makes it run). Before blame44 the
learning stayed off for the node's life: one such batch, which a maker can cause on purpose,
cut every backlog batch after it to ``max_batch``. A failure a pause keeps the rate of these
reverted batches at one per pause (plus those in flight)."""
GAP_FILL_GAS = 21_000


def settlement_gas(matches: int, per_match: int = GAS_PER_MATCH, cap: int = MAX_TX_GAS) -> int:
    """The gas limit of a settlement of ``matches`` matches (``per_match``: a bound on one
    match's gas, fallback included; ``cap``: a transaction's most)."""
    if matches == 1:
        return LONE_GAS
    return min(cap, BASE_GAS + per_match * matches)


def fitting_batch(per_match: int, cap: int = MAX_TX_GAS) -> int:
    """The most matches whose settlement gas, at ``per_match`` each, fits one transaction
    of at most ``cap`` gas."""
    return max(1, (cap - BASE_GAS) // max(1, per_match))


class BatchGas:
    """The gas bound of a settlement batch and the batch sizes it allows, learned from
    receipts. Up to ``max_batch`` matches a batch takes ``GAS_PER_MATCH`` each; while more
    wait, a backlog batch takes as many as fit at the learned gas per match with room for
    the fallback (``per_match``), or more in a *slim* batch (``slim_per_match``: no room for
    the fallback, sent again with it if it runs out of gas: ``ran_out``). ``clock``: seconds,
    for the learning's pause after a batch with room ran out of gas (``ROOM_FAIL_PAUSE``).
    ``cap``: a transaction's most gas (``MAX_TX_GAS``; tests take a small one to show the
    same splits with far fewer matches)."""

    def __init__(
        self,
        max_batch: int,
        backlog_batch: int,
        clock: Callable[[], float] = time.monotonic,
        cap: int = MAX_TX_GAS,
    ) -> None:
        self.max_batch = max_batch
        self.cap = cap
        self.backlog_batch = max(max_batch, backlog_batch)
        self.clock = clock
        self.seen = 0
        """Most gas per match (beyond ``BASE_GAS``) of a settled batch of ``LEARN_FROM``+."""
        self.out_of_gas = 0
        """Backlog batches with the fallback's room that failed with all their gas used (their
        matches sent again at ``GAS_PER_MATCH``; backlog batches take it until
        ``paused_until``)."""
        self.pause = ROOM_FAIL_PAUSE
        self.paused_until = float("-inf")
        """(``clock``) Until when the learned figure is not used (a batch with room ran out)."""
        self.backlog_sent = 0
        """Batches of more than ``max_batch`` sent."""
        self.slim_sent = 0
        self.slim_out_of_gas = 0
        """Slim batches that ran out of gas (their matches sent again with the room)."""

    def per_match(self) -> int:
        """The gas bound per match of a backlog batch with room for the fallback: what
        settled batches used, times ``FALLBACK_FACTOR``; ``GAS_PER_MATCH`` until a receipt
        told, or for ``pause`` seconds after one such batch ran out of gas."""
        if not self.seen or self.clock() < self.paused_until:
            return GAS_PER_MATCH
        return min(GAS_PER_MATCH, int(self.seen * FALLBACK_FACTOR))

    def slim_per_match(self) -> int | None:
        """The gas bound per match of a slim batch, None while slim batches do not go."""
        if self.per_match() == GAS_PER_MATCH:  # (nothing learned, or learning paused)
            return None
        if self.slim_out_of_gas * SLIM_FAIL_EVERY > self.backlog_sent:
            return None
        return int(self.seen * SLIM_FACTOR)

    def batch_size(self, waiting: int) -> int:
        """How many of ``waiting`` matches the next batch takes: ``max_batch``, or while
        more wait, up to ``backlog_batch`` as far as their gas fits one transaction (slim)."""
        if waiting <= self.max_batch:
            return waiting
        fits = fitting_batch(self.slim_per_match() or self.per_match(), self.cap)
        return min(waiting, max(self.max_batch, min(self.backlog_batch, fits)))

    def safe_size(self) -> int:
        """The most matches a batch with the fallback's room takes."""
        return max(
            self.max_batch, min(self.backlog_batch, fitting_batch(self.per_match(), self.cap))
        )

    def limit(self, matches: int, lone: bool, room: bool = False) -> tuple[int, bool]:
        """(gas limit, slim) of a batch of ``matches``: slim past ``safe_size`` (at the slim
        figure, or while slim ones pause, at most ``cap``: still no room), unless
        ``room`` (a backlog batch's matches going again, each part sized as it goes: never
        slim)."""
        if lone:
            return LONE_GAS, False
        if matches <= self.max_batch:
            return min(self.cap, BASE_GAS + GAS_PER_MATCH * matches), False
        self.backlog_sent += 1
        if matches > self.safe_size() and not room:
            # past what fits with the fallback's room: slim, also when slim ones paused (or
            # learning went off) since ``batch_size`` sized it (another flight's receipt in
            # between: review39), so that if it runs out its matches go again
            self.slim_sent += 1
            per = self.slim_per_match() or self.per_match()
            return min(self.cap, BASE_GAS + per * matches), True
        return min(self.cap, BASE_GAS + self.per_match() * matches), False

    def teaches(self, matches: int, gas_used: int) -> bool:
        """Whether a mined batch of ``matches`` that used ``gas_used`` would raise the figure
        learned (``learn``): only then is its gas figure read again (``gas_believed``)."""
        return matches >= LEARN_FROM and (gas_used - BASE_GAS) // matches > self.seen

    def learn(self, matches: int, gas_used: int) -> None:
        """A mined batch whose every match settled used ``gas_used`` (one with a skipped
        match teaches nothing: the fallback may have run, about twice a match, and a single
        refusing token would shrink every backlog batch after it)."""
        if matches >= LEARN_FROM:
            self.seen = max(self.seen, (gas_used - BASE_GAS) // matches)

    def ran_out(self, matches: int, status: int, gas_used: int, gas: int, slim: bool) -> bool:
        """Whether a batch's receipt says it is a backlog batch that ran out of gas: its
        matches go again at once, not judged (``split``: with the fallback's room, as it is
        then). A slim one's (no room for the fallback) pause slim batches at a rate
        (``SLIM_FAIL_EVERY``); one with the room pauses the learning for ``pause`` seconds
        (its matches then go at ``GAS_PER_MATCH``; the part with the one that made the
        fallback run settles the others and skips it, with its reason: judged alone), unless
        it had that bound already (nothing to gain: its matches are judged from it)."""
        if status == 1 or gas_used < gas or matches <= self.max_batch:
            return False
        if slim:
            self.slim_out_of_gas += 1
            log.warning("a slim batch of %d ran out of gas: sent again with room", matches)
            return True
        if gas >= settlement_gas(matches, cap=self.cap):
            # (already at the fallback-safe bound: sent again, the same batch at the same
            # gas, it ran out again, a second reverted transaction, and its matches were
            # judged as never sent; review45) judged from this transaction
            return False
        self.out_of_gas += 1
        self.paused_until = self.clock() + self.pause
        log.warning(
            "a batch of %d with room ran out of gas: sent again at %d gas a match, learning "
            "paused for %.0f s",
            matches, GAS_PER_MATCH, self.pause,
        )  # fmt: skip
        return True

    def split(self, matches: int) -> list[int]:
        """Sizes of the safe batches ``matches`` go again in (as even as they fit now: a
        receipt may raise the figure before the next part goes, so a caller sizes each part
        as it sends it)."""
        parts = -(-matches // self.safe_size())
        size, more = divmod(matches, parts)
        return [size + 1] * more + [size] * (parts - more)


class Fees:
    """The fees the lane signs with. While the chain's heads are announced (``heads``:
    newHeads live), the latest head's base fee, seen at most ``FEE_TTL`` ago: no request.
    Else read at most ``FEE_TTL`` ago; under load read again ahead (a task of its own, once
    they are ``FEE_READ_AHEAD`` old) instead of by the settlement that finds them expired:
    that read would wait on the event loop behind the chain's mining of the settlement
    before (Hardhat answers one call at a time). A reorg or reset the mirror took
    (``HeadSignal.rewound``) drops both: the next signature asks the chain."""

    def __init__(self, heads: HeadSignal | None = None) -> None:
        self.heads = heads
        self._cache: tuple[tuple[int, int], float] | None = None
        self._cache_rewinds = (0, 0)  # (``heads``' rewinds and refused fees, as they were asked)
        self._ahead: asyncio.Task[tuple[int, int]] | None = None
        self._forgotten = 0  # (``forget`` calls: a read asked before one is not kept)
        self._forgot_at = float("-inf")  # (``time.monotonic``: no head seen before is used)
        self.reads_ahead = 0
        self.from_heads = 0
        """Signatures with the announced head's base fee (no request)."""

    def forget(self) -> None:
        """Read them again before the next signature (a broadcast failed); a read ahead
        under way, asked before, is dropped, and so is every head's fee seen so far."""
        self._cache = None
        self._forgotten += 1
        self._forgot_at = time.monotonic()
        self.close()

    def _announced(self) -> tuple[int, int] | None:
        """The latest head's fees, if heads are announced and it was seen lately."""
        heads = self.heads
        if heads is None or not heads.live or (seen := heads.base_fee) is None:
            return None
        fee, at = seen
        if at <= self._forgot_at or time.monotonic() - at >= FEE_TTL:
            return None
        self.from_heads += 1
        return fees_for(fee)

    async def current(self, rpc: AsyncRpc) -> tuple[int, int]:
        """(max fee, priority fee) to sign with now."""
        if (announced := self._announced()) is not None:
            return announced
        now = asyncio.get_running_loop().time()
        if self._cache is not None and self._cache_rewinds != self._rewinds():
            self._cache = None  # (read before a reorg or a reset, or a fee refused: watch80)
        if self._cache is None or now - self._cache[1] >= FEE_TTL:
            return await self._read(rpc)
        if now - self._cache[1] >= FEE_READ_AHEAD and self._ahead is None:
            self._ahead = asyncio.create_task(self._read(rpc), name="settlement fees")
            self._ahead.add_done_callback(self._read_ahead)
        return self._cache[0]

    async def _read(self, rpc: AsyncRpc) -> tuple[int, int]:
        asked = asyncio.get_running_loop().time()  # (their age counts from the ask)
        forgotten = self._forgotten
        rewinds = self._rewinds()
        latest = await rpc.call("eth_getBlockByNumber", "latest", False)
        fees = self.of(latest)
        if forgotten == self._forgotten and (self._cache is None or self._cache[1] < asked):
            self._cache = (fees, asked)  # (not over a newer read's, nor after a forget)
            self._cache_rewinds = rewinds  # (a rewind meanwhile: dropped at the next use)
        return fees

    def of(self, block: object) -> tuple[int, int]:
        """(max fee, priority fee) of ``block``, the chain's latest as read (the lane's read, a
        replacement's, a displacement's): its fee believed as ``heads`` says (the bound of
        announced fees, watch80; ``ChainError`` if not believed: bounds84, fee86) and at most
        ``ceiling``. fee87: a replacement's and a displacement's were bounded by the ceiling
        alone: one lying answer raised the fee cap the operator agreed to pay."""
        if self.heads is not None:
            self.heads.read_block(block, signs=True)  # (while catching up too: review89)
        return fees_of(block, self.ceiling)

    @property
    def ceiling(self) -> int:
        """The highest base fee signed with (``HeadSignal.ceiling``: ``--max-base-fee``)."""
        return MAX_BASE_FEE if self.heads is None else self.heads.ceiling

    def _rewinds(self) -> tuple[int, int]:
        """``heads``' reorgs and resets, and announced fees it refused: a fee read before
        either is read again (a refused one: the chain's fee moved past the bounds, or the
        feed lied; watch80)."""
        return (0, 0) if self.heads is None else (self.heads.rewinds, self.heads.refused)

    def _read_ahead(self, task: asyncio.Task[tuple[int, int]]) -> None:
        self._ahead = None
        if task.cancelled():
            return
        if (e := task.exception()) is not None:  # the settlement that finds them expired reads
            log.debug("reading the fees ahead failed: %s", e)
        else:
            self.reads_ahead += 1

    def close(self) -> None:
        """Stop a read ahead under way (the settler stops)."""
        if self._ahead is not None:
            self._ahead.cancel()
