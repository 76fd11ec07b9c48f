"""Heads the chain announced (its newHeads notifications), for those who wait on a block:
the settler asks for a receipt again when a block came, not on a timer; and the latest
head's base fee, which the settler signs with instead of asking the chain for it."""

from __future__ import annotations

import asyncio
import time

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
        self.base_fee: tuple[int, float] | None = None
        """The base fee of the latest head seen (announced, or the watcher's ask for
        "latest") and when (``time.monotonic``); None once a reorg or a reset rewound."""
        self.rewinds = 0
        """Reorgs and resets the mirror took (``rewound``): a fee read before does not hold."""

    def announce(self, block_hash: str | None = None, base_fee: int | None = None) -> None:
        self.saw(base_fee)
        self.count += 1
        if block_hash is not None:
            self._hashes[self.count] = block_hash
        self._hashes.pop(self.count - KEPT, None)
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def saw(self, base_fee: int | None) -> None:
        """The latest head's base fee is ``base_fee`` (None: not told)."""
        if base_fee is not None:
            self.base_fee = (base_fee, time.monotonic())

    def rewound(self) -> None:
        """The chain went back (a reorg, a reset): the fees seen so far do not hold."""
        self.base_fee = None
        self.rewinds += 1

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


def base_fee_of(raw: object) -> int | None:
    """``baseFeePerGas`` of a block or header as the RPC gives it; None when absent or not
    a hex quantity of at most 256 bits."""
    fee = raw.get("baseFeePerGas") if isinstance(raw, dict) else None
    if not isinstance(fee, str) or not fee.startswith("0x") or not 2 < len(fee) <= 66:
        return None
    try:
        return int(fee, 16)
    except ValueError:
        return None
