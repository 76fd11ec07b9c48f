"""A wallet's answer waits for its writes' commit, for at most ``store_wait`` seconds.

``committed`` waits for any list of writes (shared ones too: a caller that goes away cancels
only its own wait). ``CommitWaits`` bounds the usual case, a new order's own row and nothing
else, with one timer for all of a loop's waits instead of one each: every wallet order waits
so, and a timer each (a ``TimerHandle``, its heap entry, its cancel) plus a done-callback
hop cost ~35 us of the loop's ~600 an order (http17).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from sdex.store import StoreError

ANSWER_BY = 9.5
"""Seconds from a wallet order's arrival (its POST's start) to its answer at most, its commit
wait included: under the wallet client's 10 s (``sdex.client.DEFAULT_TIMEOUT``), its verdict
due by ``sdex.ingest.holds.ANSWER_WITHIN`` (9 s). Its commit waited ``store_wait`` (10 s)
from the verdict: a stalling store's 503 ("the node holds order ... look it up") came after
the client had given up, saying nothing (users83)."""
MIN_COMMIT_WAIT = 0.25
"""Seconds a wallet order's commit wait gets at least (its verdict came late)."""


def answer_wait(store_wait: float, arrived: float | None) -> float:
    """Seconds a wallet order that came at ``arrived`` (``time.monotonic()``; None: no
    arrival, ``store_wait``) waits for its commit: ``store_wait`` at most, ending at
    ``ANSWER_BY`` from its arrival (``MIN_COMMIT_WAIT`` at least)."""
    if arrived is None:
        return store_wait
    return min(store_wait, max(MIN_COMMIT_WAIT, arrived + ANSWER_BY - time.monotonic()))


def committed(
    writes: list[asyncio.Future[None]], within: float | None = None
) -> asyncio.Future[None]:
    """Resolves once every one of ``writes`` is committed; the first refused raises (a later
    write's commit says nothing of an earlier job's, which may fail alone). The writes are
    shared: a caller that goes away cancels only its own wait, never them. ``within``:
    seconds after which it raises ``StoreError`` if they are not all committed (the store
    stalls; they stay queued). One timer a wait, no task."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    timer = None if within is None else loop.call_later(within, overdue, done, within)
    left = len(writes)

    def settle(w: asyncio.Future[None]) -> None:
        nonlocal left
        e = None if w.cancelled() else w.exception()  # (retrieved even if no one waits)
        if done.done():
            return
        if w.cancelled():
            done.cancel()
        elif e is not None:
            done.set_exception(e)
        else:
            left -= 1
            if left:
                return
            done.set_result(None)
        if timer is not None:
            timer.cancel()

    for w in writes:
        w.add_done_callback(settle)
    if not writes:  # (nothing to wait for)
        done.set_result(None)
        if timer is not None:
            timer.cancel()
    return done


def overdue(done: asyncio.Future[Any], within: float) -> None:
    """``done`` fails with the store's stall, unless it is done already."""
    if not done.done():
        done.set_exception(
            StoreError(f"not committed within {within:g} s (the store stalls); ask again later")
        )


EARLY = 0.001
"""Seconds before its deadline a wait is past it: asyncio runs a timer up to its clock's
resolution early; the wait is not put off again for less than this."""


class CommitWaits:
    """Deadlines for futures only their waiter holds (a new order's own row insert: the
    store made it for this request): past its deadline such a future fails with
    ``StoreError`` (its write stays queued and commits later; the writer leaves a future
    that is done alone), so the request awaits it directly, with no future of its own in
    between. One timer for them all, armed at the earliest deadline still pending; the
    waits done are dropped as new ones come (the oldest first: they end in about the order
    they came), so the queue holds about the waits in flight."""

    def __init__(self) -> None:
        self._waits: deque[tuple[float, float, asyncio.Future[Any]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._waits)

    def bound(self, fut: asyncio.Future[Any], within: float) -> None:
        """``fut`` fails with ``StoreError`` if not done within ``within`` seconds."""
        loop = fut.get_loop()
        if loop is not self._loop:  # (a node started again on another loop: the old one's
            self._loop, self._waits, self._timer = loop, deque(), None  # waits are over)
        waits = self._waits
        while waits and waits[0][2].done():
            waits.popleft()
        deadline = loop.time() + within
        waits.append((deadline, within, fut))
        timer = self._timer
        if timer is None or deadline < timer.when():  # (a shorter bound than the earlier)
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._due, loop)

    def _due(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        pending: deque[tuple[float, float, asyncio.Future[Any]]] = deque()
        for wait in self._waits:
            deadline, within, fut = wait
            if fut.done():
                continue
            if deadline <= now + EARLY:
                overdue(fut, within)
            else:
                pending.append(wait)
        self._waits = pending
        if pending:
            self._timer = loop.call_at(min(w[0] for w in pending), self._due, loop)
