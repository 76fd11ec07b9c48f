"""Heads the chain announced (its newHeads notifications), for those who wait on a block:
the settler asks for a receipt again when a block came, not on a timer."""

from __future__ import annotations

import asyncio

KEPT = 32
"""Announced heads whose block hashes are kept (``hashes_after``)."""


class HeadSignal:
    """A count of announced heads and a wait for the next one. ``live``: announcements
    come (the subscription is open); without them a wait is only its timeout."""

    def __init__(self) -> None:
        self.count = 0
        self.live = False
        self._waiters: list[asyncio.Future[None]] = []
        self._hashes: dict[int, str] = {}
        """The block hash of each of the last ``KEPT`` heads, by its count."""

    def announce(self, block_hash: str | None = None) -> None:
        self.count += 1
        if block_hash is not None:
            self._hashes[self.count] = block_hash
        self._hashes.pop(self.count - KEPT, None)
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

    def hashes_after(self, after: int) -> list[str] | None:
        """The block hashes of the heads announced after the ``after``-th, oldest first;
        None when one of them is not known (too old, or announced without its hash)."""
        out = [self._hashes.get(k) for k in range(after + 1, self.count + 1)]
        return None if None in out else [h for h in out if h is not None]
