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
before it ends, and the first waiting call keeps nothing from anyone: none deadlock.

Found without walking the line (turns80: each turn's end walked every waiting call, ~1.4 ms a
read with 1,600 waiting, peers79). What the walk would serve, in its order: a call the last
pass left waiting waits on a key it found full (``_parked``), and only that key's room coming
back (a turn ended, a call keeping one of its turns left, its bound rose) lets it go; a key's
room takes calls up to its m-th keeping call, so each pass looks at the parked keys' first
calls and walks a key only while its calls fit. A call leaves everything the moment it is
cancelled (``_Wait.cancel``), as the walk skipped it."""

from __future__ import annotations

import asyncio
import heapq
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from sortedcontainers import SortedList

OVERTAKEN_MOST = 4
"""Later calls sharing a key with a waiting call that may go before it, at most: past them
it keeps a turn of each of its keys from the calls after it."""


class _Wait(asyncio.Future[None]):
    """A waiting call: its keys and its place in the line; cancelled, it leaves its
    ``Turns``' indexes at once (the walk skipped a cancelled call from that moment on, before
    its task came to take it out of the line)."""

    def __init__(self, turns: Turns, keys: tuple[str, ...], place: int) -> None:
        super().__init__(loop=asyncio.get_running_loop())
        self.turns = turns
        self.keys = keys
        self.place = place
        self.keeping = False
        """Passed ``OVERTAKEN_MOST`` times as of the last pass: it keeps a turn of each key."""
        self.parked: str | None = None
        """The key it found without a turn for it when last looked at (None: not yet)."""
        self.looked = 0
        """The pass that last looked at it (each looks at a call at most once)."""

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        self.turns._leave(self)
        return True


class Turns:
    """At most ``limit(key)`` turns of one key at once (default ``per_key``); waiting calls
    served in their order, each once every key it asks for has a turn free."""

    def __init__(
        self,
        per_key: int,
        limit: Callable[[str], int] | None = None,
        ceiling: Callable[[str], int] | None = None,
    ) -> None:
        self.per_key = max(1, per_key)
        self._limit = limit
        self._ceiling = ceiling
        """The most ``limit(key)`` may ever be (None: not known, every parked key's bound is
        asked at each pass; ``limit`` None: ``per_key``)."""
        if limit is None:
            self._ceiling = lambda _key: self.per_key
        self._changed: set[str] = set()
        """Keys whose room came back since the last pass (a turn ended, a call keeping one
        of its turns left)."""
        self._low: set[str] = set()
        """Keys whose bound, when last asked, was below their ceiling (it may rise unseen)."""
        self._busy: dict[str, int] = {}
        """Turns taken, per key (a key with none: absent)."""
        self._waiting: dict[_Wait, tuple[str, ...]] = {}
        """The calls waiting, in order, with the keys each asks for (none waiting: empty; a
        cancelled one until its task takes it out)."""
        self._passed: dict[_Wait, int] = {}
        """Times each waiting call was passed by a later one sharing a key (none: absent)."""
        self.waited = 0
        """Calls that waited for a turn (one of their keys had all its turns taken)."""
        self._line = 0
        """The last waiting call's place in the line."""
        self._at: dict[int, _Wait] = {}
        """The waiting calls not cancelled, by their place."""
        self._fresh: list[_Wait] = []
        """Calls come since the last pass (not looked at yet)."""
        self._parked: dict[str, Any] = {}
        """The places of the calls each key had no turn for when last looked at (``SortedList``
        each, never empty); every waiting call not fresh is parked on one key."""
        self._kept: dict[str, Any] = {}
        """The places of the keeping calls asking for each key (``SortedList``, never empty)."""
        self._open: dict[str, OrderedDict[_Wait, None]] = {}
        """The calls asking for each key that keep nothing (those a later call passes), in
        order (never empty)."""
        self._passes = 0

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
            fut = self._join(mine)
            self._serve()  # (its keys free, the calls before it waiting on others': it goes)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._end(mine)  # (handed its turns, then cancelled: they pass on)
                else:
                    self._leave(fut)  # (gone at its cancel already, unless its task alone was)
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
        self._changed.update(keys)
        for k in keys:
            left = self._busy[k] - 1
            if left:
                self._busy[k] = left
            else:
                del self._busy[k]
        self._serve()

    def _join(self, keys: tuple[str, ...]) -> _Wait:
        """A call waiting for ``keys``, last in the line."""
        self._line += 1
        w = _Wait(self, keys, self._line)
        self._waiting[w] = keys
        self._at[w.place] = w
        for k in keys:
            self._open.setdefault(k, OrderedDict())[w] = None
        self._fresh.append(w)
        return w

    def _leave(self, w: _Wait) -> None:
        """``w`` out of the indexes (served or cancelled; again: nothing)."""
        if self._at.pop(w.place, None) is None:
            return
        if w.parked is not None:
            _drop(self._parked, w.parked, w.place)
            w.parked = None
        if w in self._fresh:
            self._fresh.remove(w)
        for k in w.keys:
            if w.keeping:
                _drop(self._kept, k, w.place)
                self._changed.add(k)
            else:
                passable = self._open[k]
                del passable[w]
                if not passable:
                    del self._open[k]

    def _fits(self, place: int, key: str) -> bool:
        """Whether the call at ``place`` finds a turn of ``key`` free: taken and kept by the
        keeping calls before it, fewer than its bound (true up to a key's m-th keeping call
        for its m free turns: so for a prefix of the calls asking for it)."""
        kept = self._kept.get(key)
        before = kept.bisect_left(place) if kept is not None else 0
        bound = self.limit(key)
        if self._ceiling is not None:
            if bound < self._ceiling(key):
                self._low.add(key)
            else:
                self._low.discard(key)
        return self._busy.get(key, 0) + before < bound

    def _full(self, w: _Wait) -> str | None:
        """The first of ``w``'s keys without a turn for it (None: it goes)."""
        for k in w.keys:
            if not self._fits(w.place, k):
                return k
        return None

    def _serve(self) -> None:
        """Each waiting call in its order whose keys all have a turn free, none of them kept
        by a call before it passed ``OVERTAKEN_MOST`` times, takes them: the walk's rule,
        looking only at the calls come since the last pass and those parked on a key that
        has a turn for them now (in the order of their places: a heap of each such key's
        next parked call). A call left waiting parks on a key full for it; one served counts
        a pass for each call before it sharing a key that keeps nothing, and those passed
        ``OVERTAKEN_MOST`` times keep from the next pass (the walk's counts, deferred)."""
        self._passes += 1
        now = self._passes
        ahead: list[tuple[int, str | None]] = [(w.place, None) for w in self._fresh]
        self._fresh.clear()
        for k in self._room_back():  # (a key's room back, or its bound risen)
            parked = self._parked[k]
            if self._fits(parked[0], k):
                ahead.append((parked[0], k))
        heapq.heapify(ahead)
        crossed: list[_Wait] = []
        while ahead:
            place, key = heapq.heappop(ahead)
            if key is not None and not self._fits(place, key):
                continue  # (nor has it for any parked after: the key's walk ends)
            w = self._at.get(place)
            if w is not None and w.looked != now:
                w.looked = now
                full = self._full(w)
                if full is None:
                    self._give(w, crossed)
                elif full != w.parked:
                    if w.parked is not None:
                        _drop(self._parked, w.parked, place)
                    self._parked.setdefault(full, SortedList()).add(place)
                    w.parked = full
            if key is not None and (parked := self._parked.get(key)) is not None:
                i = parked.bisect_right(place)
                if i < len(parked):
                    heapq.heappush(ahead, (parked[i], key))
        for x in crossed:  # (keeping from the next pass on)
            if self._at.get(x.place) is x:
                x.keeping = True
                for k in x.keys:
                    passable = self._open[k]
                    del passable[x]
                    if not passable:
                        del self._open[k]
                    self._kept.setdefault(k, SortedList()).add(x.place)

    def _room_back(self) -> list[str]:
        """The parked keys that may have a turn for their first parked call now: those whose
        room came back since the last pass, and those whose bound may have risen (below
        their ceiling when last asked; without a ceiling, all). peers81: every parked key's
        bound was asked at every pass (200 parked keys: 77-95 us a read; each of a mass
        cancel's calls a pass, so it was quadratic). A key full for its first parked call at
        a pass stays so until its room comes back or its bound rises: calls only take turns
        and keep them meanwhile, and a call parked on it later, or first now, is one its
        pass found it full for, or comes after that one (more kept before it)."""
        changed, self._changed = self._changed, set()
        if self._ceiling is None:
            return list(self._parked)
        parked = self._parked
        self._low = low = {k for k in self._low if k in parked}  # (no longer parked: out)
        return [k for k in changed | low if k in parked]

    def _give(self, w: _Wait, crossed: list[_Wait]) -> None:
        """``w`` takes its turns; the calls it passed count it (``crossed``: those it made
        ``OVERTAKEN_MOST``)."""
        passed = {x for k in w.keys for x in self._before(k, w.place)}
        self._leave(w)
        del self._waiting[w]
        self._passed.pop(w, None)
        self._take(w.keys)
        w.set_result(None)
        for x in passed:
            n = self._passed.get(x, 0) + 1
            self._passed[x] = n
            if n == OVERTAKEN_MOST:
                crossed.append(x)

    def _before(self, key: str, place: int) -> Iterator[_Wait]:
        """The calls asking for ``key`` that keep nothing, before ``place``."""
        for x in self._open.get(key, ()):
            if x.place >= place:
                return
            yield x


def _drop(index: dict[str, Any], key: str, place: int) -> None:
    """``place`` out of ``index[key]`` (the key out once it has none)."""
    places = index[key]
    places.remove(place)
    if not places:
        del index[key]
