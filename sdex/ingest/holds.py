"""A wallet's order held while the chain mirror replays the chain (replay79): the intake's
side of ``sdex.node.replayhold``.

An order held past its wait (a replay longer than the hold: a long chain, a slow backend)
was read one by one, a token of its sender's budget each: a wallet posting past its burst
met 429 ``THROTTLED`` for the rest of the replay (outage79). Now a wallet's held orders of
one account (maker, maker token) whose waits end within ``GATHER`` of the first's share its
read (``SharedReads``): one token, their rows in one ``getOrderStates`` call (the state
batcher's window), each order still judged by its own row.

Bounded in time as a whole (replay80): the hold (5 s), the gather (0.5 s) and the read
(``READ_DEADLINE``, 8 s) took up to 13.5 s, past the wallet client's 10 s
(``sdex.client.DEFAULT_TIMEOUT``): the client gave up on an order the node might still take.
Now the shared read gets what is left of ``ANSWER_WITHIN`` from the order's arrival: past it
the order is answered 503 ``CHAIN_UNAVAILABLE``, "try again", nothing taken. An order with
less than ``MIN_READ`` left is answered so at once, unread (users86: its read got
``MIN_READ`` whatever was left, so one that waited over 8 s before its hold was answered
past its due time), and the gather ends ``MIN_READ`` before the group's earliest due time.

Counted from the start of the hold (replay80), an order that waited before
it (a body sent slowly, a busy loop's hand-overs) was answered that much later, past the
client's 10 s (user81): the arrival is the POST's (``Held.arrived``), and the hold itself
ends ``HOLD_SECONDS`` after it."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

from sdex.chain import OrderState
from sdex.ingest.rejections import FOLLOWING, Rejection, not_following, read_failed
from sdex.mirror import Mirror
from sdex.order import SignedOrder

Hand = Callable[[], object]
"""Called just before an intake call's first wait: its signatures' hand-over (sim48)."""


class Held(NamedTuple):
    """An order held for the mirror (``Hold``): whose, and since when."""

    sender: str
    """The sender it was held for (its wallet client's group, ``peer:`` and a peer's id)."""
    arrived: float
    """When its order arrived (``time.monotonic()``: a wallet's POST's start), whence its
    verdict is due (``ANSWER_WITHIN``)."""


Hold = Callable[[int], Awaitable[Held | None]]
"""(A wallet's order at this index that needs a chain read while the mirror replays the
chain) Wait, bounded, for the mirror to follow it (``sdex.node.replayhold``): whose and since
when (``Held``), None when it was not held (past a bound)."""
Charge = Callable[[], Rejection | None]
"""A token of the order's sender's budget of chain reads, or why not (``THROTTLED``)."""

GATHER = 0.5
"""Seconds a shared read waits, from its first order's end of wait, for the sender's other
held orders of the account to end theirs (a burst's waits end as spread as its posts came)."""
SHARE_MOST = 200
"""Orders in one shared read at most (``sdex.node.replayhold.MAX_HELD_PER_SENDER``: a
sender holds no more at once; the state batcher reads up to 256 rows in one call)."""

ANSWER_WITHIN = 9.0
"""Seconds from an order's arrival (its POST's start) to its verdict at most, its hold and
shared read included: under the wallet client's 10 s (``sdex.client.DEFAULT_TIMEOUT``), a
second left for its row's commit and the answer. With the hold's 5 s and ``GATHER``, its read
gets 3.5 s (less once it waited over 3.5 s before the hold)."""
MIN_READ = 0.5
"""Seconds an order's chain read needs left before its verdict is due at least: with less
left it is answered 503 ``CHAIN_UNAVAILABLE`` at once, unread, no token spent (a read
given a few ms only spends a token and a call to be given up; users86: a shared read got
this much whatever was left, past the due time)."""

Key = tuple[str, str, str]
"""(sender, maker, maker token)."""
Waiter = tuple[SignedOrder, "asyncio.Future[OrderState | Rejection]", float]
"""An order of a shared read, its answer, and the ``time.monotonic()`` it is due by."""
Read = Callable[[SignedOrder, float], Awaitable[OrderState | Rejection]]
"""One order's chain read, given up (``CHAIN_UNAVAILABLE``) after the seconds given."""


class Follows(Protocol):
    """What ``held`` asks of the intake (``sdex.ingest.intake.Intake``)."""

    mirror: Mirror | None
    mirror_ready: Callable[[], bool]
    chain_status: Callable[[], str]
    shared: SharedReads


class SharedReads:
    """Reads of held orders past their wait, one per sender and account at a time
    (``GATHER``, ``SHARE_MOST``): ``read`` reads one order's row (the batcher folds the
    group's rows, read at once, into one call) while the chain is followed (``status``),
    each read given what is left of its group's earliest due time (``ANSWER_WITHIN``)."""

    def __init__(
        self,
        read: Read,
        status: Callable[[], str],
        overdue: Callable[[SignedOrder], Rejection],
        gather: float = GATHER,
    ) -> None:
        self.read = read
        self.status = status
        self.overdue = overdue
        """An order's answer when too little is left to read it (``MIN_READ``)."""
        self.gather = gather
        self.reads = 0
        """Shared reads made (a token each, taken as the read is made)."""
        self.joined = 0
        """Orders read in one of those without a token of their own."""
        self._open: dict[Key, _Group] = {}
        self._running: set[asyncio.Future[None]] = set()

    async def get(
        self, key: Key, signed: SignedOrder, charge: Charge, due: float = math.inf
    ) -> OrderState | Rejection:
        """``signed``'s state, read with the other orders of ``key`` whose waits end within
        ``gather`` of the first's (a token of its sender's budget for them all, the first's
        ``charge``, taken when the read is made), answered by ``due`` (``time.monotonic()``):
        at once, unread, with less than ``MIN_READ`` left (``overdue``'s answer)."""
        if due - time.monotonic() < MIN_READ:
            return self.overdue(signed)
        fut: asyncio.Future[OrderState | Rejection] = asyncio.get_running_loop().create_future()
        group = self._open.get(key)
        if group is not None and len(group.waiters) < SHARE_MOST:
            group.join((signed, fut, due))
            self.joined += 1
        else:
            self._open[key] = group = _Group((signed, fut, due), charge)
            run = asyncio.ensure_future(self._run(key, group))  # (its own: not a request's)
            self._running.add(run)
            run.add_done_callback(self._running.discard)
        return await fut  # (cancelled: its wait alone; the row is read for the others)

    async def _run(self, key: Key, group: _Group) -> None:
        """After ``gather``, or ``MIN_READ`` before its earliest due time if sooner, every
        order of ``group`` read at once, each given what is left till its own due time (none
        left: ``overdue``); each answered. The group's token is taken then, for a read made:
        users89 (review88), taken when the group opened, it was spent on no read when the
        chain went down meanwhile, or every order was past its due time by then (a loop
        starved past them); refused, each order is answered so (``THROTTLED``)."""
        answers: list[OrderState | Rejection | BaseException] = []
        waiters = group.waiters
        try:
            end = time.monotonic() + self.gather
            while (wait := min(end, group.due - MIN_READ) - time.monotonic()) > 0:
                group.sooner.clear()  # (set by one that joins due sooner: wait less)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await group.sooner.wait()
            if self._open.get(key) is group:
                del self._open[key]
            if (now := self.status()) not in FOLLOWING:  # (went down meanwhile)
                answers = [not_following(now)] * len(waiters)
            elif all(d <= (at := time.monotonic()) for _, _, d in waiters):
                answers = [self.overdue(s) for s, _, _ in waiters]
            elif (refused := group.charge()) is not None:
                answers = [refused.of_order(s.hash) for s, _, _ in waiters]
            else:
                self.reads += 1
                answers = await asyncio.gather(
                    *(self._read_by(s, d - at) for s, _, d in waiters), return_exceptions=True
                )
        finally:
            if self._open.get(key) is group:
                del self._open[key]
            for k, (_, fut, _) in enumerate(waiters):
                if not fut.done():  # (none: cancelled, the node stopping)
                    fut.set_result(_answer(answers[k] if k < len(answers) else Stopped()))

    async def _read_by(self, signed: SignedOrder, left: float) -> OrderState | Rejection:
        """``signed`` read within ``left`` seconds; none left: ``overdue``'s answer."""
        return self.overdue(signed) if left <= 0 else await self.read(signed, left)


class _Group:
    """The orders of one shared read (``SharedReads``), and the earliest of their due times."""

    def __init__(self, first: Waiter, charge: Charge) -> None:
        self.waiters = [first]
        self.due = first[2]
        self.charge = charge
        """The token of the read (its first order's sender's), taken as it is made."""
        self.sooner = asyncio.Event()
        """Set when an order joins due sooner than the others (the read starts sooner)."""

    def join(self, waiter: Waiter) -> None:
        self.waiters.append(waiter)
        if waiter[2] < self.due:
            self.due = waiter[2]
            self.sooner.set()


class Stopped(Exception):
    """A shared read cancelled (the node stopping): its orders answered, never acknowledged."""


def _answer(a: OrderState | Rejection | BaseException) -> OrderState | Rejection:
    """A shared read's answer for one order: its row, why not, or its read's failure."""
    if isinstance(a, OrderState | Rejection):
        return a
    return read_failed(a if isinstance(a, Exception) else Stopped())


async def held(
    hold: Hold, i: int, signed: SignedOrder, f: Follows, charge: Charge
) -> OrderState | Rejection | None:
    """``signed`` (ECDSA-signed), while the mirror replays the chain (else None at once),
    after ``hold(i)``: the mirror's state if it follows the chain by then, why not if the
    chain is not followed any more, its state from a shared read (``SharedReads``) if it
    was held and the mirror still replays, else None (read it: a first-seen account, or not
    held: past the hold's bounds). Read at once while the mirror replays, each order cost a
    read and its sender a token: a wallet's burst of posts met 429s for the whole replay."""
    if f.mirror is None or f.mirror_ready():
        return None
    got = await hold(i)
    if (now := f.chain_status()) not in FOLLOWING:
        return not_following(now)
    if f.mirror_ready():
        return f.mirror.state(signed)
    if got is None:
        return None
    o, due = signed.order, got.arrived + ANSWER_WITHIN  # (from its POST's start: user81)
    return await f.shared.get((got.sender, o.maker, o.maker_token), signed, charge, due)
