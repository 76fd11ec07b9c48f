"""The rule ``sdex.chain.arpcturns.Turns`` serves its waiting calls by, as the walk that was
its code until turns80 (main at 9935610c): each turn's end walks every waiting call in order.
The reference ``tests/test_turns80_same_order.py`` compares the indexed ``Turns`` with (the
same calls, cancellations and timeouts, the same loop turns: the same calls served, in the
same order, at the same turn) and ``bench/peers79_turns.py`` measures it against."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from sdex.chain.arpcturns import OVERTAKEN_MOST


class WalkTurns:
    """At most ``limit(key)`` turns of one key at once (default ``per_key``); waiting calls
    served in their order, each once every key it asks for has a turn free."""

    def __init__(self, per_key: int, limit: Callable[[str], int] | None = None) -> None:
        self.per_key = max(1, per_key)
        self._limit = limit
        self._busy: dict[str, int] = {}
        """Turns taken, per key (a key with none: absent)."""
        self._waiting: dict[asyncio.Future[None], tuple[str, ...]] = {}
        """The calls waiting, in order, with the keys each asks for (none waiting: empty)."""
        self._passed: dict[asyncio.Future[None], int] = {}
        """Times each waiting call was passed by a later one sharing a key (none: absent)."""
        self.waited = 0
        """Calls that waited for a turn (one of their keys had all its turns taken)."""

    def busy(self, key: str) -> int:
        """Turns ``key`` has now."""
        return self._busy.get(key, 0)

    def limit(self, key: str) -> int:
        """The most turns ``key`` may have at once."""
        return self.per_key if self._limit is None else max(1, self._limit(key))

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """One of ``key``'s turns for the block (``turns`` of one key)."""
        async with self.turns((key,)):
            yield

    @asynccontextmanager
    async def turns(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """A turn of each of ``keys`` for the block: at once if each has one free, else once
        they all have (cancelled meanwhile: it leaves the line, holding nothing)."""
        mine = tuple(sorted(set(keys)))
        if not self._waiting and self._free(mine):  # (none before it: it goes first)
            self._take(mine)
        else:
            self.waited += 1
            fut = asyncio.get_running_loop().create_future()
            self._waiting[fut] = mine
            self._serve()  # (its keys free, the calls before it waiting on others': it goes)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._end(mine)  # (handed its turns, then cancelled: they pass on)
                else:
                    self._waiting.pop(fut, None)
                    self._passed.pop(fut, None)
                    self._serve()  # (what it kept from the calls after it: theirs now)
                raise
        try:
            yield
        finally:
            self._end(mine)

    def _free(self, keys: tuple[str, ...]) -> bool:
        return all(self._busy.get(k, 0) < self.limit(k) for k in keys)

    def _take(self, keys: tuple[str, ...]) -> None:
        for k in keys:
            self._busy[k] = self._busy.get(k, 0) + 1

    def _end(self, keys: tuple[str, ...]) -> None:
        """``keys``' turns ended: the waiting calls whose keys are all free now take them."""
        for k in keys:
            left = self._busy[k] - 1
            if left:
                self._busy[k] = left
            else:
                del self._busy[k]
        self._serve()

    def _serve(self) -> None:
        """Each waiting call in its order whose keys all have a turn free, none of them kept
        by a call before it passed ``OVERTAKEN_MOST`` times, takes them (O(waiting x keys),
        and for each call served the calls before it waiting on one of its keys)."""
        kept: dict[str, int] = {}
        behind: dict[str, list[asyncio.Future[None]]] = {}  # (waiting, passable, per key)
        for fut, keys in list(self._waiting.items()):
            if fut.done():  # (cancelled: its task leaves the line itself)
                continue
            if all(self._busy.get(k, 0) + kept.get(k, 0) < self.limit(k) for k in keys):
                del self._waiting[fut]
                self._passed.pop(fut, None)
                self._take(keys)
                fut.set_result(None)
                for before in {f for k in keys for f in behind.get(k, ())}:
                    self._passed[before] = self._passed.get(before, 0) + 1
            elif self._passed.get(fut, 0) >= OVERTAKEN_MOST:
                for k in keys:
                    kept[k] = kept.get(k, 0) + 1
            else:
                for k in keys:
                    behind.setdefault(k, []).append(fut)
