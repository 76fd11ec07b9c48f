"""Deadlines for one stream's calls, answers and idleness, watched by one timer.

A stream used to bound each call and each answer with its own ``asyncio.timeout`` (and each
receive with aiohttp's): one timer handle made, pushed on the event loop's heap and
cancelled per frame, about a tenth of a node's CPU per message at 20 orders/s (cProfile,
docs/BENCHMARKS.md "gossip3"). Here a deadline is one dict entry; the single timer is armed
for the earliest one and, when it fires, reports the keys whose time is up and re-arms
itself for the next. A deadline set later than the armed one costs no timer at all. The
bounds stay the same: whatever is due expires at its time, give or take the loop's turn.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable


class Deadlines:
    """Key -> when it expires; ``expired(keys)`` is called with the keys whose time came."""

    def __init__(self, expired: Callable[[list[int]], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._at: dict[int, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._due = math.inf
        self._expired = expired

    def set(self, key: int, seconds: float) -> None:
        """``key`` expires ``seconds`` from now (replacing its earlier deadline, if any)."""
        at = self._loop.time() + seconds
        self._at[key] = at
        if at < self._due:
            self._arm(at)

    def discard(self, key: int) -> None:
        self._at.pop(key, None)

    def close(self) -> None:
        """Forget every deadline; the timer never fires."""
        self._at.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due = math.inf

    def __len__(self) -> int:
        return len(self._at)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._due = at
        self._timer = self._loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self._timer, self._due = None, math.inf
        now = self._loop.time()
        gone = [k for k, at in self._at.items() if at <= now]
        for k in gone:
            del self._at[k]
        if self._at:
            self._arm(min(self._at.values()))
        if gone:
            self._expired(gone)
