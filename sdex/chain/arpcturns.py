"""Turns on an async client's connections, per key (``Turns``): at most ``limit(key)`` of one
key's reads in flight at once; the others wait, holding no connection and no turn.

A client's connections are few (``sdex.ingest.verify.CONTRACT_CONNECTIONS``: 4) and taken in
the order asked: one key whose reads never end (a contract wallet whose ``isValidSignature``
burns its gas, or a path to the chain that holds its calls) took them all, and every other
key's read waited for one (reads77). Under ``Turns`` with each key's bound below the
connections, one key holds at most its bound of them, the rest stay free for the others.

A read may take turns of several keys at once (``turns``: its makers', its submitter's, a
pool's): it gets all of them together or waits holding none (reads78: taken one after another,
a read waiting for a pool's turn held its submitter's, and the submitter's other reads waited
behind it; all or none, no two calls wait on each other's keys, so none deadlock).

Served in their order, not first come first served: a call whose keys are all free goes
past the calls before it that wait for others' (a maker's read past its submitter's waiting
on the pool). A call passed ``OVERTAKEN_MOST`` times by later calls that share a key with it
keeps a turn of each of its keys from the calls after it (share78: a ``(rest)`` read needing
many keys was passed by later single-key reads for ever, each freed turn taken by one of
them, its keys never all free at once). Kept, never taken: a key it keeps has a turn free
from then on (only calls before it may take the last), so it goes once every turn held
before it ends, and the first waiting call keeps nothing from anyone: none deadlock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

OVERTAKEN_MOST = 4
"""Later calls sharing a key with a waiting call that may go before it, at most: past them
it keeps a turn of each of its keys from the calls after it."""


class Turns:
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
