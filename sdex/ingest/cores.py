"""Whether the event loop's thread has a core to spare for a helper thread (the ECDSA
worker, ``sdex.ingest.verify``).

A helper thread pays for itself only when it runs beside the loop on a core that would
otherwise idle. When every core is taken (several nodes on one machine, or other work), it
runs instead of the loop, not beside it, and each hand-over is paid for twice over: the
thread's wake-up, the GIL taken back from the loop after each recovery (cffi releases it
around the call), the loop's wake-up for the verdicts. Eight nodes on two cores at
1,000 orders/s offered: the worker ran ~0.45 times an order and node, and recovering on
the loop instead took 0.94-0.95x the nodes' CPU per order and 0.6-0.7x the loop's turns
(docs/BENCHMARKS.md, perf38).

The sign read here: the loop thread's own wait for a CPU while runnable, against its CPU
time, over the last ``INTERVAL`` (Linux's ``/proc/thread-self/schedstat``; read at most
once an interval, on the loop thread, ~10 us). Waiting at least as long as it ran
(``BUSY_RATIO``) means the machine's cores are all taken: no core to spare. Where the file
is missing or unreadable, a core is taken to be spare (the thread, as before)."""

from __future__ import annotations

import time
from collections.abc import Callable

INTERVAL = 1.0
"""Seconds between two readings (the verdict holds until the next)."""
BUSY_RATIO = 1.0
"""No core to spare when the loop thread waited for one at least this many times as long
as it ran over the last interval."""


def loop_thread_schedstat() -> tuple[int, int] | None:
    """(nanoseconds on a CPU, nanoseconds runnable but waiting for one) of the calling
    thread, or None where Linux's ``schedstat`` is not there."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            fields = f.read().split()
        return int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


class SpareCore:
    """``spare()``: whether a helper thread would run beside the calling (loop) thread now;
    re-judged at most once an ``interval`` from the thread's CPU and run-queue wait since
    the last reading. Call it from the loop thread only (the reading is that thread's)."""

    def __init__(
        self,
        read: Callable[[], tuple[int, int] | None] = loop_thread_schedstat,
        clock: Callable[[], float] = time.monotonic,
        interval: float = INTERVAL,
        ratio: float = BUSY_RATIO,
    ) -> None:
        self._read = read
        self._clock = clock
        self._interval = interval
        self._ratio = ratio
        self._last: tuple[int, int] | None = None
        self._next = float("-inf")
        self.last_spare = True
        """The latest verdict (True until two readings say otherwise)."""
        self.busy_windows = 0
        """Intervals judged to have no core to spare (``/health``-style count)."""

    def spare(self) -> bool:
        now = self._clock()
        if now < self._next:
            return self.last_spare
        self._next = now + self._interval
        got = self._read()
        if got is None:
            self._last = None
            self.last_spare = True
            return True
        last, self._last = self._last, got
        if last is not None:
            ran, waited = got[0] - last[0], got[1] - last[1]
            if ran > 0:  # (a thread that did not run: keep the last verdict)
                self.last_spare = waited < self._ratio * ran
                self.busy_windows += not self.last_spare
        return self.last_spare
