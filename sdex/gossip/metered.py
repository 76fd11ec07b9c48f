"""An admitted peer's requests paid for by the loop time they took (gossip77).

The request budget (``peer_rate_limit``, 2,000 tokens a second) was a token a request,
whatever it cost: the cheapest request over a stream takes ~0.2-0.3 ms of the loop, so one
admitted peer bought ~45-64% of the loop asking the cheapest thing (gossip74, review74b);
lowering the rate would throttle honest pushes. Now each request an admitted peer sends
(a stream frame, or a signed HTTP request addressed here) is measured: the time of each
step of its handling on the loop (``time.perf_counter``, ~60 ns a read here where the thread's
CPU clock, a system call, took ~2 us, 4-6 reads a frame: gossip78), as CPU time by
``Crowding`` (another process's turn on the core, on a crowded machine, is not the peer's),
plus ``UNMEASURED`` for what happens outside those steps (aiohttp's frame and request parsing,
the loop's own work, the answer's write); at most ``MOST_SECONDS`` a request (a collector's
pause or a slow disk read in a step is the process's, not the peer's; a collector's pause is
left out of every step measured, the intake's too, whose charge has no such ceiling: ``_step``,
peers81). A token buys ``LOOP_SHARE / rate`` seconds of it: a peer whose requests took more than
that pays for each ``seconds / token`` tokens, so its full budget buys at most ``LOOP_SHARE`` of
the loop, whatever it asks. A request costs a token at least (taken before it is read:
``gate.admit``), the rest once it is answered; a peer in debt waits for the refill (its next
frame closes the stream, its next HTTP request is answered 429).
An honest peer's pushes at 1,000 orders a second across 8 nodes take a few percent of a
receiver's loop; their new orders' intake is paid apart (``intake_tokens``, gossip78).
Strangers share one budget, charged by kind as before
(``sdex.gossip.budgets``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

from sdex.gossip.alike import Pushers
from sdex.gossip.timing import GC_PAUSES

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

clock: Callable[[], float] = time.perf_counter
"""The time a step takes (a test may set a fake): the wall clock, read cheaply; a step's
wall time is its CPU time times how crowded the loop's core is (``Crowding``), as the
intake's price wants it and ``cpu`` undoes for a request's."""
cpu_clock: Callable[[], float] = time.thread_time
"""The clock of the intake's steps (``Meter(cpu=True)``; a test may set a fake): the loop
thread's CPU time, priced as wall time by how ``crowded`` its core is (``intake_tokens``'s
caller). flake93: read on the wall clock, a step preempted on a crowded machine (load ~23)
was charged whole, ~0.2 s for a push of 2 orders that took ~3 ms of CPU, and a stranger's
second push was refused 429 (the strangers' budget, 1,000 tokens, spent by one stall)."""


def _step(began: float, paused: float, now: float, gc_now: float) -> float:
    """The loop time of a step that began at ``began`` and ended at ``now`` (the meter's
    clock), its collections' time ``paused`` then ``gc_now`` (on the same clock: ``Meter.
    paused``) left out (peers81: a collection's pause inside an intake step, 0.8-2.9 s a
    window across 8 nodes at 500 orders a second, flood80, was charged to its group's
    pushers with no ceiling; the process's, not theirs). A collection that began before the
    step counts whole: never below nothing."""
    return max(0.0, now - began - (gc_now - paused))


class Meter:
    """The CPU time of the loop's steps spent on one request, summed (``metered``), the
    collector's pauses left out (``_step``)."""

    __slots__ = ("cpu", "seconds")

    def __init__(self, cpu: bool = False) -> None:
        self.seconds = 0.0
        self.cpu = cpu
        """Read on ``cpu_clock`` (the intake's group: its steps' CPU time), else ``clock``."""

    def now(self) -> float:
        return cpu_clock() if self.cpu else clock()

    def paused(self) -> float:
        """The collections' time so far on the meter's clock: their CPU time for ``cpu``
        (flake94: their wall time, mostly a wait for a core on a crowded machine, taken out
        of a step's CPU time left the step's own work uncharged), else their wall time."""
        return GC_PAUSES.cpu_seconds if self.cpu else GC_PAUSES.seconds

    def step(self, began: float, paused: float) -> None:
        """A step that began at ``began`` (``now``), ``paused`` then, ended: its time added."""
        self.seconds += _step(began, paused, self.now(), self.paused())

    def time(self, step: Callable[[], T]) -> T:
        """``step()``, its CPU time added."""
        began, paused = self.now(), self.paused()
        try:
            return step()
        finally:
            self.step(began, paused)


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
            began, paused = meter.now(), meter.paused()
            try:
                step = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as done:
                meter.step(began, paused)
                result: T = done.value
                return result
            except BaseException:
                meter.step(began, paused)
                raise
            meter.step(began, paused)
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
    least 1): ``LOOP_SHARE`` of the loop a second is what ``rate`` tokens a second buy (a
    CPU second, however crowded the machine: ``Crowding`` prices pushes' intake alone; a
    node catching up pulls dear pages, and a request over budget is refused, not shrunk)."""
    cost = min(seconds + UNMEASURED, MOST_SECONDS)
    return max(1.0, cost * rate / LOOP_SHARE)


INTAKE_SHARE = 0.3
"""The most of the loop one pusher's full request budget buys in the intake of its pushes'
new orders (``intake_tokens``): more than ``LOOP_SHARE``, as a node's one link to the rest
of the network relays every order made elsewhere (at issue 11's 1,000 orders a second, ~0.2
of the loop here: ~2/3 of its budget), and still far from all of it."""
ORDER_UNMEASURED = 60e-6
"""Seconds a pushed new order costs the node outside the intake task's steps, charged with
its share of them (``intake_tokens``): its signature recovered on the ECDSA worker (~50 us
of a core, gossip74's cancel), its row's hand-over and commit on the store's writer."""
SIGNATURE_UNMEASURED = 50e-6
"""Of ``ORDER_UNMEASURED``, the signature's recovery on the ECDSA worker: not charged for an
order whose signature the node recovered on its loop (while no core is spare:
``sdex.ingest.verify.EcdsaBatcher``, every order on a crowded machine), which the intake's
steps measured already (flood80: charged twice, ``crowded`` times 50 us an order, up to
1 ms of the loop at crowded 20, a third of an honest pusher's intake charge)."""


CROWDED_MOST = 20.0
"""The most ``Crowding`` counts a CPU second of the loop thread as (its wait for a core)."""
CROWDING_EVERY = 1.0
"""Seconds between two readings of the loop thread's run and wait times (``Crowding``)."""


class Crowding:
    """How much of the loop one CPU second of its thread is, on this machine now: (time run
    + time waiting for a core) / time run, of the loop thread since the last reading
    (``/proc/thread-self/schedstat``, read at most every ``CROWDING_EVERY`` seconds, on
    the thread that asks: the loop's), 1 where it cannot be read. gossip78: on a crowded
    machine (load 17-19 on 2 cores) the node's loop got ~0.13 of a core, so a pusher's
    budget of ``INTAKE_SHARE`` of a CPU second a second was all of what the loop had, and
    a push flood took ~3/4 of a wallet's throughput (bench/gossip78_push_flood.py)."""

    def __init__(self, path: str = "/proc/thread-self/schedstat") -> None:
        self.path = path
        self.factor = 1.0
        self._at = float("-inf")
        self._last: tuple[int, int] | None = None

    def now(self) -> float:
        """The factor, read again if ``CROWDING_EVERY`` passed since the last reading."""
        t = time.monotonic()
        if t - self._at < CROWDING_EVERY:
            return self.factor
        self._at = t
        try:
            with open(self.path, "rb") as f:
                run, wait = (int(x) for x in f.read().split()[:2])
        except (OSError, ValueError):
            return self.factor
        last, self._last = self._last, (run, wait)
        if last is not None and run - last[0] >= 10_000_000:  # (10 ms run: else too few)
            ran, waited = run - last[0], max(0, wait - last[1])
            self.factor = min(CROWDED_MOST, (ran + waited) / ran)
        return self.factor


def intake_tokens(
    seconds: float,
    orders: int,
    rate: float,
    crowded: float = 1.0,
    on_loop: int = 0,
    once: int | None = None,
) -> float:
    """The request-budget tokens a push's new orders cost (gossip78): ``seconds`` of the
    loop the intake's steps took on them (wall time: a CPU second times how ``crowded`` the
    loop's core is, ``Crowding``), ``ORDER_UNMEASURED`` each besides (CPU: times
    ``crowded``) but ``SIGNATURE_UNMEASURED`` of the ``on_loop`` whose signatures were
    recovered in those steps (flood80), ``rate`` tokens a second buying ``INTAKE_SHARE`` of
    the loop; no least charge (the push paid its token). The steps' ``seconds`` count at
    most ``MOST_SECONDS`` (CPU: times ``crowded``) an order (peers81: a step's wall time
    while the machine stalled the loop's thread, beyond what ``Crowding`` read over the last
    second, was charged whole: 1.1 s for a push of 2 orders that took 10 ms of CPU, and its
    honest pusher was in debt; flood80's dearest group was ~4 ms of CPU an order).
    ``once``: of ``orders``, those charged ``ORDER_UNMEASURED`` now (all if None; peers83: a
    group paid twice charged it twice), the others' in an earlier charge."""
    crowded, once = max(1.0, crowded), orders if once is None else once
    seconds = min(seconds, max(1, orders) * MOST_SECONDS * crowded)
    unmeasured = once * ORDER_UNMEASURED - min(on_loop, orders) * SIGNATURE_UNMEASURED
    return max(0.0, seconds + unmeasured * crowded) * rate / INTAKE_SHARE


def push_tokens(seconds: float, rate: float, crowded: float = 1.0) -> float:
    """The request-budget tokens a push's own handling costs (flood79): ``seconds`` of the
    loop its steps took (its signature's check, its body's read, hash and parse: wall time,
    as its orders' intake is priced, ``intake_tokens``), ``UNMEASURED`` besides (CPU: times
    ``crowded``), at most ``MOST_SECONDS`` (CPU) the same way; ``rate`` tokens a second buy
    ``INTAKE_SHARE`` of the loop; a token at least. gossip78 priced them as any request's
    (``tokens``: CPU time, wall over ``crowded``): on a crowded machine (crowded 8-12) a
    pusher's budget bought its pushes' parsing ~10 times the loop its intake's did, beyond
    ``INTAKE_SHARE`` (bench/gossip78_push_flood.py: a flood took ~2/3 of a wallet's rate)."""
    crowded = max(1.0, crowded)
    cost = min(seconds + UNMEASURED * crowded, MOST_SECONDS * crowded)
    return max(1.0, cost * rate / INTAKE_SHARE)


def cpu(seconds: float, crowded: float) -> float:
    """A request's steps' wall ``seconds`` as the loop thread's CPU time: over how
    ``crowded`` its core is (``Crowding``; what gossip77 charged, the thread's CPU clock)."""
    return seconds / max(1.0, crowded)


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
        self.crowding = Crowding()
        """How much of the loop a CPU second of its thread is now (the intake's price)."""
        self.intake_orders = 0
        self.intake_seconds = 0.0
        self.intake_tokens = 0.0
        """Pushed new orders, the loop time the intake's steps took on them, and what their
        pushers were charged for it (``intake``)."""
        self.pushers = Pushers()
        """Admitted pushers' recent intake charges: one alike the others' is forgiven
        (``sdex.gossip.alike``, peers81)."""

    def intake(self, seconds: float, orders: int, tokens: float) -> None:
        self.intake_orders += orders
        self.intake_seconds += seconds
        self.intake_tokens += tokens

    def charged(self, seconds: float, tokens: float) -> None:
        self.requests += 1
        self.seconds += min(seconds + UNMEASURED, MOST_SECONDS)
        self.tokens += tokens

    def to_json(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "loopSeconds": round(self.seconds, 3),
            "tokens": round(self.tokens, 1),
            "throttled": self.throttled,
            "intake": {
                "orders": self.intake_orders,
                "loopSeconds": round(self.intake_seconds, 3),
                "tokens": round(self.intake_tokens, 1),
                "forgiven": round(self.pushers.forgiven, 1),
                "crowded": round(self.crowding.factor, 2),
            },
        }
