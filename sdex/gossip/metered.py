"""An admitted peer's requests paid for by the loop time they took (gossip77).

The request budget (``peer_rate_limit``, 2,000 tokens a second) was a token a request,
whatever it cost: the cheapest request over a stream takes ~0.2-0.3 ms of the loop, so one
admitted peer bought ~45-64% of the loop asking the cheapest thing (gossip74, review74b);
lowering the rate would throttle honest pushes. Now each request an admitted peer sends
(a stream frame, or a signed HTTP request addressed here) is measured: the CPU time of the
loop thread in each step of its handling (``time.thread_time``, so another process's turn on
the core, on a crowded machine, is not counted), plus ``UNMEASURED`` for what happens outside
those steps (aiohttp's frame and request parsing, the loop's own work, the answer's write);
at most ``MOST_SECONDS`` a request (a collector's pause or a slow disk read in a step is the
process's, not the peer's). A token buys ``LOOP_SHARE / rate`` seconds of it: a peer whose
requests took more than that pays for each ``seconds / token`` tokens, so its full budget
buys at most ``LOOP_SHARE`` of the loop, whatever it asks. A request costs a token at least
(taken before it is read: ``gate.admit``), the rest once it is answered; a peer in debt waits
for the refill (its next frame closes the stream, its next HTTP request is answered 429).
An honest peer's pushes at 1,000 orders a second across 8 nodes take a few percent of a
receiver's loop (their intake is the node's work, shared, not measured here: a group of
many peers' orders): far below it. Strangers share one budget, charged by kind as before
(``sdex.gossip.budgets``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

LOOP_SHARE = 0.2
"""The most of the loop one admitted peer's full request budget buys, as measured: with what
is not measured (``UNMEASURED``'s estimate is a floor) at most ~1/4 of it (gossip77's runs of
``bench/gossip74_peer_requests.py``)."""
UNMEASURED = 100e-6
"""Seconds of the loop a request takes outside the steps measured (aiohttp reads its frame
or request, the loop wakes for it, an answer larger than the socket's buffer is written
in later turns): charged with each. gossip77's runs of ``bench/gossip74_peer_requests.py``
at load 20-25: the cheapest request over a stream took ~0.28 ms of the loop thread, its
steps measured ~0.16 ms; a digest 0.32 and ~0.22, a cancel 0.46 and ~0.37; a listing of
~1,200 hashes 1.21 and ~0.85."""
MOST_SECONDS = 0.05
"""A request's charge at most (a full collection or a disk read in one of its steps is
not the peer's doing; the dearest answers a peer may ask, a snapshot or cancelled page of
1,000, take ~10-20 ms, and have budgets of their own: ``sdex.gossip.budgets``)."""

clock: Callable[[], float] = time.thread_time
"""The loop thread's CPU time (a test may set a fake)."""


class Meter:
    """The CPU time of the loop's steps spent on one request, summed (``metered``)."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0

    def time(self, step: Callable[[], T]) -> T:
        """``step()``, its CPU time added."""
        began = clock()
        try:
            return step()
        finally:
            self.seconds += clock() - began


class _Metered(Generic[T]):
    """``metered``'s awaitable: runs ``coro`` one step at a time, each timed."""

    __slots__ = ("_coro", "_meter")

    def __init__(self, coro: Coroutine[Any, Any, T], meter: Meter) -> None:
        self._coro = coro
        self._meter = meter

    def __await__(self) -> Generator[Any, Any, T]:
        coro, meter = self._coro, self._meter
        value: Any = None
        error: BaseException | None = None
        while True:
            began = clock()
            try:
                step = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as done:
                meter.seconds += clock() - began
                result: T = done.value
                return result
            except BaseException:
                meter.seconds += clock() - began
                raise
            meter.seconds += clock() - began
            try:
                value, error = (yield step), None  # (the future it waits on, to the task)
            except BaseException as e:  # (a cancel, or a close: passed on to it)
                value, error = None, e


def metered(coro: Coroutine[Any, Any, T], meter: Meter) -> Awaitable[T]:
    """Await ``coro`` with the CPU time of each of its steps added to ``meter`` (what other
    tasks run while it waits is not)."""
    return _Metered(coro, meter)


def tokens(seconds: float, rate: float) -> float:
    """The request-budget tokens a request that took ``seconds`` of the loop costs (at
    least 1): ``LOOP_SHARE`` of the loop a second is what ``rate`` tokens a second buy."""
    cost = min(seconds + UNMEASURED, MOST_SECONDS)
    return max(1.0, cost * rate / LOOP_SHARE)


class Costs:
    """What admitted peers' requests took and were charged (``/health`` ``peerRequests``)."""

    def __init__(self) -> None:
        self.requests = 0
        self.seconds = 0.0
        """The loop time measured, ``UNMEASURED`` and the bound included."""
        self.tokens = 0.0
        self.throttled = 0
        """Requests of admitted peers refused over their budget (a stream closed for it
        counts one)."""

    def charged(self, seconds: float, tokens: float) -> None:
        self.requests += 1
        self.seconds += min(seconds + UNMEASURED, MOST_SECONDS)
        self.tokens += tokens

    def to_json(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "loopSeconds": round(self.seconds, 3),
            "tokens": round(self.tokens, 1),
            "throttled": self.throttled,
        }
