"""Heads the chain announced (its newHeads notifications), for those who wait on a block:
the settler asks for a receipt again when a block came, not on a timer."""

from __future__ import annotations

import asyncio


class HeadSignal:
    """A count of announced heads and a wait for the next one. ``live``: announcements
    come (the subscription is open); without them a wait is only its timeout."""

    def __init__(self) -> None:
        self.count = 0
        self.live = False
        self._waiters: list[asyncio.Future[None]] = []

    def announce(self) -> None:
        self.count += 1
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def wait(self, after: int, timeout: float) -> None:
        """Return once a head later than the ``after``-th was announced (at once if one
        was), or after ``timeout`` seconds."""
        if self.count != after:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait((fut,), timeout=timeout)
        finally:
            if not fut.done():
                fut.cancel()
                if fut in self._waiters:
                    self._waiters.remove(fut)
