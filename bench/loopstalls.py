"""The event loop's stalls during a start's reset walk, as the walk benches measure them
(``reset74_walk_ready``, ``gate77_gap_trace``, ``reset79_walk_stalls``): a 5 ms ticker on
the loop run until the walk is done (``tick_until_walked``), the collector's runs
(``GC``, once the bench puts it in ``gc.callbacks``), and a watchdog thread that samples
the loop thread's frames while the ticker is late (``Watchdog``)."""

from __future__ import annotations

import asyncio
import collections
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any


class GcTimes:
    """The collector's runs (``gc.callbacks``): generation, start and length, each."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, float, float]] = []
        self._at = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._at = time.perf_counter()
        else:
            self.runs.append((info["generation"], self._at, time.perf_counter() - self._at))

    def within(self, start: float, end: float) -> list[tuple[int, float]]:
        """(generation, ms) of the runs that began between ``start`` and ``end``."""
        return [(g, round(d * 1000, 1)) for g, at, d in self.runs if start <= at <= end]


GC = GcTimes()


def innermost(frame: FrameType, depth: int = 4) -> str:
    """The ``depth`` innermost frames of a stack, innermost first."""
    inner = traceback.extract_stack(frame)[-depth:]
    return " <- ".join(reversed([f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in inner]))


def ours(frame: FrameType, depth: int = 6) -> str:
    """The ``depth`` innermost frames of a stack that are ``sdex/``'s, innermost first."""
    mine = [f for f in traceback.extract_stack(frame) if "/sdex/" in f.filename][-depth:]
    return " <- ".join(reversed([f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in mine]))


class Watchdog(threading.Thread):
    """Every 20 ms: while the loop's ticker (``tick``, set by the loop) is over ``stall``
    late, the loop thread's stack sampled (``where``: its text; None samples nothing); once
    it ticks again, the stall noted with the collector's runs that began in it and its
    ``top`` samples seen most. Stopped by ``done``."""

    def __init__(
        self,
        loop_thread: int,
        stall: float,
        where: Callable[[FrameType], str] | None,
        top: int = 2,
    ) -> None:
        super().__init__(daemon=True)
        self.loop_thread, self.stall, self.where, self.top = loop_thread, stall, where, top
        self.tick = time.perf_counter()
        self.stalls: list[dict[str, Any]] = []
        self.done = threading.Event()
        self._since: float | None = None
        self._samples: collections.Counter[str] = collections.Counter()

    def saw(self, now: float) -> None:
        """The ticker ran at ``now`` (``tick_until_walked``'s ``tick``)."""
        self.tick = now

    def run(self) -> None:
        while not self.done.wait(0.02):
            now, tick = time.perf_counter(), self.tick
            if now - tick > self.stall:
                self._since = tick
                frame = sys._current_frames().get(self.loop_thread) if self.where else None
                if frame is not None and self.where is not None:
                    self._samples[self.where(frame)] += 1
            elif self._since is not None:
                self.stalls.append({
                    "ms": round((tick - self._since) * 1000),
                    "gc": GC.within(self._since, tick),
                    "frames": self._samples.most_common(self.top),
                })  # fmt: skip
                self._since, self._samples = None, collections.Counter()


async def tick_until_walked(
    node: Any, t0: float, ready: float, at_least: float, tick: Callable[[float], None]
) -> tuple[float, list[float]]:
    """A 5 ms ticker on the loop until the start's walk is done (its marker cleared, bounded
    by 20 minutes) and ``at_least`` seconds past ready (``t0``: the start, ``ready`` its
    length), each tick's time given to ``tick``: the walk's length from ``t0`` and the gaps
    between ticks."""
    gaps: list[float] = []
    last = time.perf_counter()
    walked = 0.0
    while not walked or last - t0 < ready + at_least:
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        tick(now)
        gaps.append(now - last)
        last = now
        if not walked and not (getattr(node, "rejudging", False) or node.store.rejudge_due):
            walked = now - t0
        if now - t0 > 1200:
            raise TimeoutError("the walk took over 20 minutes")
    return walked, gaps
