"""The order registry's row writes (``sdex.node.registry``): every change of a record's
status, filled amount or reason is queued to the store's writer here, never awaited here.

Three kinds are told apart: a block's (``track_writes``/``tracked_writes``: the watcher saves
its head only once they are committed, and a failed one is written again before the next
block), a wallet order's own (``own_writes``: its 2xx waits for these only), and the
settler's results (``defer_writes``/``write_deferred``: written together).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from sdex.futures import retrieved
from sdex.node.events import EventHub
from sdex.node.held import HeldOrders, Row
from sdex.store import StoreError
from sdex.watch.changes import durable

WAIT_CHUNK = 256
"""Row writes a block's wait (``RowWrites._committed``) hands ``asyncio.wait`` at once."""
CHECK_CHUNK = 4096
"""Row writes whose outcomes ``RowWrites._committed`` looks at in one turn of the loop."""


class RowWrites(HeldOrders):
    """The registry's row writes (``OrderRegistry``'s base): queued, tracked for a block,
    a wallet order's own, or deferred; ``rows_writing``, those in flight."""

    def __init__(self, events: EventHub) -> None:
        super().__init__(events)
        self._tracked: _Tracked | None = None
        """While a block's changes are applied (``track_writes``): the row writes they queue
        (only those the task applying them makes, not a wallet's cancel, the settler's rows
        or any task's, even one that task started, written meanwhile)."""
        self._tracking: asyncio.Task[None] | None = None
        """The last ``tracked_writes``' wait (its failures noted in ``_unstored`` at its end)."""
        self._unstored: set[str] = set()
        """Orders (hash hex) a tracked row write failed for: written again by the next
        ``track_writes``, before the watcher may save its head past them."""
        self._own: tuple[str, list[asyncio.Future[None]]] | None = None
        """While ``own_writes`` runs: the order (hash hex) and the row writes queued for it."""
        self.rows_writing: set[asyncio.Future[None]] = set()
        """Row writes in flight (a listing filtered by status waits for them)."""

    async def track_writes(
        self, bound: float = math.inf, slow: Callable[[], None] | None = None
    ) -> None:
        """From now until ``tracked_writes``, the row writes this task (the watcher's) queues
        (closes, ``sync``) are the block's: the watcher saves its head only once they are
        committed. First, the last block's tracked writes are waited for (still pending if
        its poll failed after queuing them), ``slow()`` called once that takes over
        ``bound`` seconds (the watcher says its store stalls: ``durable``), and the rows
        whose tracked write failed (their current state) are queued again."""
        last, self._tracking = self._tracking, None
        if last is not None:  # (its failures noted: written again below)
            await durable(asyncio.wait([last]), bound, slow or _nothing)
        task = asyncio.current_task()
        assert task is not None  # (on the event loop: the watcher's task)
        self._tracked = _Tracked(task)
        again = [
            rec.row()
            for h in self._unstored
            if (rec := self.records.get(bytes.fromhex(h[2:]))) is not None
        ]  # (a record no longer held was evicted: its row is committed as it holds it)
        self._unstored.clear()
        if again:
            self._update(again)

    def tracked_writes(self) -> asyncio.Task[None] | None:
        """The end of ``track_writes``: a task that ends once every row write tracked was
        tried, raising ``StoreError`` if one failed (those rows noted to be written again)."""
        tracked, self._tracked = self._tracked, None
        if tracked is None:
            return None
        if not tracked.writes:
            return None
        task = asyncio.create_task(self._committed(tracked.writes), name="block-rows")
        task.add_done_callback(retrieved)  # (the watcher's to see, awaited only if applied)
        self._tracking = task
        return task

    async def _committed(self, tracked: list[tuple[asyncio.Future[None], list[str]]]) -> None:
        # (``asyncio.wait``: the futures are the store's, a 2xx's wait may share them, and a
        # cancelled wait must leave them alone and leave no future of its own holding an
        # exception: ``gather`` and then ``shield`` did, logged at a stop as "exception was
        # never retrieved" with a traceback (fresh-clone runs, tests/test_node_stop.py))
        # Only those not done yet, ``WAIT_CHUNK`` at a time: ``asyncio.wait`` schedules a
        # callback per future, a done one's at once, all run in one turn of the loop (gate77:
        # a start's reset walk of 50,000 closed orders tracked a write per row, waited for
        # at its end: one 1.1 s turn, ``bench/gate77_gap_trace.py``)
        pending = [f for f, _ in tracked if not f.done()]
        for i in range(0, len(pending), WAIT_CHUNK):
            await asyncio.wait(pending[i : i + WAIT_CHUNK])
        # (and their outcomes looked at ``CHECK_CHUNK`` at a time, the loop given back
        # between: reset79, one pass over 50,000 held it 33-47 ms of CPU at a walk's end)
        failed, first = 0, ""
        for i in range(0, len(tracked), CHECK_CHUNK):
            if i:
                await asyncio.sleep(0)
            for f, hashes in tracked[i : i + CHECK_CHUNK]:
                result = asyncio.CancelledError() if f.cancelled() else f.exception()
                if result is None:
                    continue
                self._unstored.update(hashes)
                failed += len(hashes)
                first = first or f"{hashes[0]}'s: {result}"
        if failed:  # (the watcher's problem, on /health: which row, and why)
            raise StoreError(f"{failed} order rows of the block not stored, {first}")

    def own_writes(self, hash_hex: str) -> _OwnWrites:
        """The row writes queued for ``hash_hex``'s order in the ``with`` block (synchronous:
        a wallet's order's arrival, a soft cancel's close), not another order's closed
        meanwhile (a resting order found expired): the 2xx waits for these only."""
        return _OwnWrites(self, hash_hex)

    def defer_writes(self) -> None:
        """Until ``write_deferred``: closed records' rows are kept, and written together."""
        self._deferred = []

    def write_deferred(self) -> None:
        rows, self._deferred = self._deferred, None
        if rows:  # (the settler's results: nobody waits for them)
            self._update(rows)

    def _write(self, row: Row) -> None:
        """Queue ``row``'s update, unless deferred. Never awaited here: a handler whose 2xx
        depends on it awaits it (its own writes: ``own_writes``); the writer
        commits it before any write queued later (a checkpoint, say)."""
        if self._deferred is not None:
            self._deferred.append(row)
        else:
            self._update([row])

    def _update(self, rows: list[Row]) -> None:
        """Queue ``rows``' update (tracked while a block's changes are applied)."""
        fut = self.store.update_orders(rows)
        self.rows_writing.add(fut)
        fut.add_done_callback(self.rows_writing.discard)
        if (own := self._own) is not None and any(r[0] == own[0] for r in rows):
            own[1].append(fut)
        tracked = self._tracked
        if tracked is not None and tracked.task is asyncio.current_task():
            tracked.writes.append((fut, [r[0] for r in rows]))


class _Tracked:
    """The row writes a block's changes queued: those of ``task``, the watcher's, applying
    them. Not a context variable: every task started from the watcher's task while the
    block applies (gossip's pushes and checks, a settlement, a timer scheduled there) would
    inherit it, and its refused row fail the block (the head held, the row written again by
    the watcher on every try)."""

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.writes: list[tuple[asyncio.Future[None], list[str]]] = []


def _nothing() -> None:
    pass


class _OwnWrites:
    """``RowWrites.own_writes``' block (a class: a generator's context manager costs
    ~1 us more, on every wallet order)."""

    __slots__ = ("_before", "_own", "_registry")

    def __init__(self, registry: RowWrites, hash_hex: str) -> None:
        self._registry = registry
        self._own: tuple[str, list[asyncio.Future[None]]] = (hash_hex, [])
        self._before: tuple[str, list[asyncio.Future[None]]] | None = None

    def __enter__(self) -> list[asyncio.Future[None]]:
        self._before, self._registry._own = self._registry._own, self._own
        return self._own[1]

    def __exit__(self, *_exc: object) -> None:
        self._registry._own = self._before
