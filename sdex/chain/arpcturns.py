"""Turns on an async client's connections, per key (``Turns``): at most ``per_key`` of one
key's reads in flight at once; the key's others wait in order, holding no connection.

A client's connections are few (``sdex.ingest.verify.CONTRACT_CONNECTIONS``: 4) and taken in
the order asked: one key whose reads never end (a contract wallet whose ``isValidSignature``
burns its gas, or a path to the chain that holds its calls) took them all, and every other
key's read waited for one (reads77). Under ``Turns`` with ``per_key`` below the connections,
one key holds at most ``per_key`` of them, the rest stay free for the others."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager


class Turns:
    """At most ``per_key`` turns of one key at once; a key's waiting calls in their order."""

    def __init__(self, per_key: int) -> None:
        self.per_key = max(1, per_key)
        self._busy: dict[str, int] = {}
        """Turns taken, per key (a key with none: absent)."""
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        """Each key's calls waiting for a turn, in order (a key with none: absent)."""
        self.waited = 0
        """Calls that waited for their key's turn (its ``per_key`` were taken)."""

    def busy(self, key: str) -> int:
        """Turns ``key`` has now."""
        return self._busy.get(key, 0)

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """One of ``key``'s turns for the block: at once if it has fewer than ``per_key``,
        else once one of its turns ends (cancelled meanwhile: it leaves the line)."""
        if self._busy.get(key, 0) < self.per_key:
            self._busy[key] = self._busy.get(key, 0) + 1
        else:
            self.waited += 1
            mine = asyncio.get_running_loop().create_future()
            line = self._waiting.setdefault(key, deque())
            line.append(mine)
            try:
                await mine
            except asyncio.CancelledError:
                if mine.done() and not mine.cancelled():
                    self._end(key)  # (handed a turn, then cancelled: the next takes it)
                elif mine in line:  # (else a turn's end passed it over already)
                    line.remove(mine)
                    if not line:
                        del self._waiting[key]
                raise
        try:
            yield
        finally:
            self._end(key)

    @asynccontextmanager
    async def turns(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """A turn of each of ``keys`` for the block, taken one after another in sorted order
        (every caller's: none waits for a key while holding one a caller it waits behind
        needs), each ended as the block ends or a later one's wait is cancelled."""
        async with AsyncExitStack() as held:
            for key in sorted(set(keys)):
                await held.enter_async_context(self.turn(key))
            yield

    def _end(self, key: str) -> None:
        """One of ``key``'s turns ended: the next of its waiting calls takes it, or it is
        free."""
        line = self._waiting.get(key)
        while line:
            nxt = line.popleft()
            if not line:
                del self._waiting[key]
            if not nxt.done():
                nxt.set_result(None)
                return  # (the turn passes on: ``busy`` unchanged)
        left = self._busy[key] - 1
        if left:
            self._busy[key] = left
        else:
            del self._busy[key]
