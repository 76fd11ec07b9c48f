"""What checking a peer's new orders costs this node, as counts in fixed buckets (so a
benchmark takes the difference of two ``/health`` readings and gets one window's
distribution; ``bench/gossip_sim.py`` gives the simulator that shape). Bounded: a fixed
number of counters, whatever the traffic."""

from __future__ import annotations

import asyncio
import bisect
import gc
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from types import FrameType
from typing import Any

EDGES_US = tuple(round(25 * 2 ** (k / 4)) for k in range(49))
"""Upper edges of the buckets in microseconds: 25 us to 102 ms, four a doubling (the last
bucket holds everything above)."""


PUSH_EDGES_US = tuple(round(25 * 2 ** (k / 4)) for k in range(81))
"""``PushTiming``'s edges: the same steps on to 26 s (a push's hold and round trip run past
``EDGES_US``'s 102 ms under load, up to its timeout)."""


class Histogram:
    """Counts of values (microseconds) by bucket of ``edges`` (``EDGES_US`` unless told)."""

    def __init__(self, edges: tuple[int, ...] = EDGES_US) -> None:
        self.edges = edges
        self.counts = [0] * (len(edges) + 1)

    def add(self, microseconds: float, times: int = 1) -> None:
        self.counts[bisect.bisect_left(self.edges, microseconds)] += times

    def to_json(self) -> list[int]:
        return list(self.counts)


class CheckTiming:
    """Per new order of a peer's chunk: the event loop thread's CPU time, the wall time the
    intake took, and the wall time it was not on the loop's CPU (the ECDSA worker thread,
    the hand-offs to it and back, waiting for a core), a chunk's times shared out among its
    new orders."""

    def __init__(self) -> None:
        self.cpu = Histogram()
        self.wall = Histogram()
        self.off_cpu = Histogram()

    def add(self, new: int, cpu_s: float, wall_s: float) -> None:
        if new > 0:
            self.cpu.add(cpu_s * 1e6 / new, new)
            self.wall.add(wall_s * 1e6 / new, new)
            self.off_cpu.add(max(0.0, wall_s - cpu_s) * 1e6 / new, new)

    def to_json(self) -> dict[str, list[int]]:
        return {"cpuUs": self.cpu.to_json(), "wallUs": self.wall.to_json(),
                "offCpuUs": self.off_cpu.to_json()}  # fmt: skip


class _Handed:
    __slots__ = ("at", "order", "pushed")

    def __init__(self, order: object, at: float) -> None:
        self.order, self.at, self.pushed = order, at, False


class PushTiming:
    """Where an order's time goes between nodes (per push, microseconds, wall, buckets of
    ``PUSH_EDGES_US``): ``hold``, how long the oldest order of a push waited in its outbox
    since this node handed it to the core (a push in flight, its answer or ``push_hold``;
    its first send to that peer only, not the retries after a failed push); ``roundTrip``,
    from the push leaving to its answer (the peer's read, queue and check, both transports;
    ``failed`` counts the pushes with no answer: errors, timeouts); ``queue``, how long a
    peer's push waited here for the one-batch-at-a-time check; ``check``, the whole check
    of a peer's push (its new orders through the intake, ECDSA included). Pushes only: an
    anti-entropy fetch's or snapshot's check is not counted."""

    ORDERS = 4096
    """Orders whose hand-over time is kept (oldest dropped first: a push leaves long before;
    ``unpushed`` counts those dropped before any push of theirs left, so a hold missing
    from ``hold`` shows)."""

    def __init__(self) -> None:
        self.hold = Histogram(PUSH_EDGES_US)
        self.round_trip = Histogram(PUSH_EDGES_US)
        self.queue = Histogram(PUSH_EDGES_US)
        self.check = Histogram(PUSH_EDGES_US)
        self.known = 0
        """Pushes of copies all held here: answered without the queue or a check."""
        self.failed = 0
        self.unpushed = 0
        self._since: OrderedDict[int, _Handed] = OrderedDict()
        self._retried: OrderedDict[tuple[str, int], None] = OrderedDict()
        """(peer URL, id(order)) of orders of failed pushes: their next push is a retry."""

    def handed(self, order: object, now: float) -> None:
        """``order`` reached the core at ``now`` (``time.perf_counter``)."""
        since = self._since
        if len(since) >= self.ORDERS and not since.popitem(last=False)[1].pushed:
            self.unpushed += 1
        since[id(order)] = _Handed(order, now)

    def pushed(self, url: str, orders: list[object], now: float) -> None:
        """A push of ``orders`` (oldest first, held by identity) leaves for ``url``."""
        since = self._since
        for o in orders:
            hit = since.get(id(o))
            if hit is not None and hit.order is o:
                hit.pushed = True
        key = (url, id(orders[0]))
        if key in self._retried:
            del self._retried[key]  # a retry: its hold was taken when it first left
            return
        first = since.get(id(orders[0]))
        if first is not None and first.order is orders[0]:
            self.hold.add((now - first.at) * 1e6)

    def failed_push(self, url: str, body: object) -> None:
        """A push to ``url`` got no answer: its orders are pushed there again later."""
        self.failed += 1
        orders = body.get("orders") if isinstance(body, dict) else None
        for o in orders if isinstance(orders, list) else ():
            if len(self._retried) >= self.ORDERS:
                self._retried.popitem(last=False)
            self._retried[(url, id(o))] = None

    def to_json(self) -> dict[str, object]:
        return {"holdUs": self.hold.to_json(), "roundTripUs": self.round_trip.to_json(),
                "queueUs": self.queue.to_json(), "checkUs": self.check.to_json(),
                "allKnown": self.known, "failed": self.failed, "unpushed": self.unpushed,
                "edges": list(PUSH_EDGES_US)}  # fmt: skip


class GcPauses:
    """The process's garbage collections (``gc.callbacks``): how many of each generation, how
    long each took (wall time, microseconds, ``pausesUs``), their wall and CPU seconds in all
    and by generation, the longest of each generation, and the objects the collector no
    longer walks (``frozen``: ``gc.freeze``, ``sdex.node.gcfreeze``). One per process
    (``GC_PAUSES``).

    A signal's handler may raise in a collection's callback (Ctrl-C's ``KeyboardInterrupt``:
    a collection of a large heap takes long, and the callback is the first Python code to
    run after it); the interpreter would print it as "Exception ignored ... while calling GC
    callback" and drop it. ``_callback`` catches it and has that exception raised in the
    main thread once the collection is over (``REDELIVERY``), the handler not run again."""

    def __init__(self) -> None:
        self.pauses = Histogram()
        self.by_generation = [0, 0, 0]
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.seconds_by_generation = [0.0, 0.0, 0.0]
        self.longest_by_generation = [0.0, 0.0, 0.0]
        self.longest_cpu_by_generation = [0.0, 0.0, 0.0]
        """The longest collection of each generation in CPU seconds (on a shared machine a
        collection's wall time is mostly waiting for a core)."""
        self.last_full = 0.0
        """The CPU seconds of the latest generation-2 collection."""
        self.freezes = 0
        """``gc.freeze`` calls of the node's policy (``sdex.node.gcfreeze``) and its thaws."""
        self.thaws = 0
        self.frozen = 0
        """Objects frozen, as counted when the policy last changed the frozen set
        (``note_frozen``; frozen objects freed by reference counting since are still in it):
        counting walks every frozen object (6.6 ms for a node's 77,000 after start-up, the
        pages of all of them read), too slow for each ``/health``; only the policy freezes."""
        self._started = 0.0
        self._started_cpu = 0.0
        self._installed = False

    def install(self) -> None:
        if not self._installed:
            self._installed = True
            gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        try:  # (all of it: a handler may run at any call in it, ``Histogram.add``'s too)
            self._note(phase, info)
        except BaseException as e:  # (a signal's handler raised here: see the class)
            REDELIVERY.hold(e)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.thread_time()
            return
        took = time.perf_counter() - self._started
        cpu = time.thread_time() - self._started_cpu
        self.seconds += took
        self.cpu_seconds += cpu
        self.pauses.add(took * 1e6)
        generation = info.get("generation", 0)
        if 0 <= generation < 3:
            self.by_generation[generation] += 1
            self.seconds_by_generation[generation] += took
            if took > self.longest_by_generation[generation]:
                self.longest_by_generation[generation] = took
            if cpu > self.longest_cpu_by_generation[generation]:
                self.longest_cpu_by_generation[generation] = cpu
        if generation == 2:
            self.last_full = cpu

    def note_frozen(self) -> int:
        """The frozen set changed (``gc.freeze``, ``gc.unfreeze``): count it once; the count."""
        self.frozen = gc.get_freeze_count()
        return self.frozen

    def to_json(self) -> dict[str, object]:
        return {
            "pausesUs": self.pauses.to_json(),
            "byGeneration": list(self.by_generation),
            "seconds": round(self.seconds, 6),
            "cpuSeconds": round(self.cpu_seconds, 6),
            "secondsByGeneration": [round(s, 6) for s in self.seconds_by_generation],
            "longestByGeneration": [round(s, 6) for s in self.longest_by_generation],
            "longestCpuByGeneration": [round(s, 6) for s in self.longest_cpu_by_generation],
            "frozen": self.frozen,
            "freezes": self.freezes,
            "thaws": self.thaws,
        }


class Redelivery:
    """An exception a signal's handler raised inside a garbage collection's callback, raised
    again in the main thread's own code once the collection is over.

    ``hold(e)`` sets a profile function (``sys.setprofile``: the main thread's, where signal
    handlers run) that raises ``e`` at the first call or return outside every collection
    callback (``gc.callbacks``, ours or another library's: their frames are on the stack)
    and takes itself away first (putting back the profile function it replaced). The
    program's handler ran once, and is not run again (review18: it ran twice); nothing
    depends on where CPython checks for pending signals (the fifteenth session's
    ``_Redeliver`` tripped the signal again from a subscript, which CPython 3.11 does not
    follow with a check, and a callback of another library after ours got the interrupt,
    printed and dropped it). While one is held, another is dropped (its handler ran)."""

    def __init__(self) -> None:
        self.pending: BaseException | None = None
        self._replaced: Any = None

    def hold(self, e: BaseException) -> None:
        if self.pending is not None:
            return
        self.pending = e
        self._replaced = sys.getprofile()
        sys.setprofile(self._profile)

    def _profile(self, frame: FrameType, event: str, arg: object) -> None:
        e = self.pending
        if e is None or in_gc_callback(frame):
            return
        self.pending = None
        # (a C profiler's, cProfile's, is not callable from Python: it stops, not fails)
        sys.setprofile(self._replaced if callable(self._replaced) else None)
        self._replaced = None
        raise e


def in_gc_callback(frame: FrameType | None) -> bool:
    """Whether ``frame`` or one it was called from runs a ``gc.callbacks`` function."""
    codes = {getattr(c, "__code__", None) for c in gc.callbacks}
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


REDELIVERY = Redelivery()


class LoopTurns:
    """Turns of the event loop (``/health`` ``loopTurns``): its selector's waits, those
    that returned ready sockets (``woken``: a frame, a request, a thread's hand-back through
    the loop's self-pipe), and those that waited at all (``slept``: the loop had nothing
    ready; its next wake-up is a context switch). A benchmark takes the difference of two
    readings over its orders: the wake-ups each order costs a node. Counted by wrapping the
    loop's selector's ``select`` (one Python call a turn, ~0.2 us); one per process, each
    loop counted once (``install``)."""

    def __init__(self) -> None:
        self.turns = 0
        self.woken = 0
        self.slept = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Count ``loop``'s turns from now (a loop without a selector, or one counted
        already, is left as it is)."""
        sel: Any = getattr(loop, "_selector", None)
        if sel is None or getattr(sel, "_sdex_turns", None) is self:
            return
        inner = sel.select

        def select(timeout: float | None = None) -> Any:
            ready = inner(timeout)
            self.turns += 1
            if ready:
                self.woken += 1
            if timeout is None or timeout > 0:
                self.slept += 1
            return ready

        sel.select = select
        sel._sdex_turns = self

    def to_json(self) -> dict[str, int]:
        return {"turns": self.turns, "woken": self.woken, "slept": self.slept}


LOOP_TURNS = LoopTurns()


GC_PAUSES = GcPauses()

MAX_THREAD_NAMES = 16
"""At most this many thread names are reported apart (the rest under ``other``)."""
_POOL_SUFFIX = re.compile(r"[-_]\d+(_\d+)?$")


def thread_cpu() -> dict[str, list[float]]:
    """Seconds each of this process's threads has run on a CPU and waited for one while
    runnable, and how many times it was put on one (its wake-ups: each a context switch)
    (``/proc/self/task/*/schedstat``, nanoseconds: the loop thread's apart from
    the ECDSA worker's, the store writer's and the chain's), by thread name (a pool's
    threads together; threads not started by Python, and names beyond
    ``MAX_THREAD_NAMES``, under ``other``). Empty where ``/proc`` does not have it."""
    out: dict[str, list[float]] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    names: dict[int | None, str] = {
        getattr(t, "native_id", None): _POOL_SUFFIX.sub("", t.name) for t in threading.enumerate()
    }
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                fields = f.read().split()
            ran, waited, runs = int(fields[0]) / 1e9, int(fields[1]) / 1e9, int(fields[2])
        except (OSError, ValueError, IndexError):
            continue  # (a thread that ended meanwhile)
        name = names.get(int(tid), "other") if tid.isdigit() else "other"
        if name not in out and len(out) >= MAX_THREAD_NAMES:
            name = "other"
        row = out.setdefault(name, [0.0, 0.0, 0.0])
        row[0] += ran
        row[1] += waited
        row[2] += runs
    return {k: [round(v[0], 6), round(v[1], 6), v[2]] for k, v in out.items()}
