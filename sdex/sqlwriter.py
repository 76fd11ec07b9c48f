"""The one thread that owns a node's SQLite connection (``sdex.store``): group commit.

Callers queue jobs; the thread takes all that are waiting, runs them in one transaction (each
in its own savepoint, so one failing job undoes only itself), commits, and only then wakes
whoever waits for them. Order rows queued on the event loop are handed over once per loop
iteration and inserted with multi-row ``INSERT``s (among other jobs: in one savepoint; a
group of rows only: no savepoint, and up to ``ROWS_A_STATEMENT`` rows one statement in its
own transaction, no ``BEGIN``/``COMMIT``: each statement gives up the GIL and takes it back);
rows nobody waits for (a peer's orders: no answer waits on their commit) are handed over at most
``LAZY_HANDOVER`` seconds later, with whatever else is queued by then (waking the thread
costs more than inserting a row).
An urgent job (a settlement's record, fills to publish: one waiter, on a latency path) cuts
the group window short: it goes in the next transaction, with whatever else is queued then.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import queue
import re
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

from sdex.ordertext import order_text
from sdex.storecheckpoint import checkpointer_for
from sdex.storeschema import INSERT_ORDER, ORDER_VALUES

log = logging.getLogger("sdex.store")
GATE_SAID = 16
"""Kinds of ``Writer._gate`` failure logged at most (each once)."""

T = TypeVar("T")

CLOSE_WAIT = 30.0
"""Seconds ``close`` waits for the writer to commit what is queued and stop: a writer hung
(a stalled disk, a job that never returns) must not hang the node's shutdown."""
LAZY_HANDOVER = 0.1
"""Seconds a row nobody waits for may stay queued on the event loop (at most: any other job
takes it along sooner). A crash loses at most these rows, which peers still hold. At low
rates each hand-over is a wake-up of the loop (its timer) and of the thread: ~100 us each."""
REFUSED_KEPT = 4096
"""Hashes of refused order rows kept for the node to write again (``Writer.refused``): the
oldest go past this (their orders' rows then wait for a wallet's repeat, or a restart)."""


class StoreError(Exception):
    """A write the database refused or could not commit (disk full, I/O error, closed)."""


def serialised(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """An order row with its ``order_json`` as text (``json.dumps``' text, if a dict:
    ``sdex.ordertext.order_text``, formatted directly for the node's own order JSON, else
    the C encoder made once). The writer holds the GIL while it makes the text, so the
    event loop waits meanwhile: 2.5-2.7 us a row with the encoder, 1.2-1.3 direct, on the
    thread's CPU clock (http48, ``bench/intake_micro.py``'s ``text``)."""
    if isinstance(row[5], dict):
        return (*row[:5], order_text(row[5]), *row[6:])
    return row


Fn = Callable[[sqlite3.Connection], Any]
Job = tuple[
    "Fn | None",
    "tuple[object, ...] | None",
    "Future[Any] | None",
    "asyncio.Future[Any] | None",
]
"""(function, or None for an order row to insert), the row, a blocking caller's future,
an asyncio caller's future."""


class Writer:
    """The thread that owns the connection: jobs in, one transaction per group, results out.

    A job is ``fn(connection)`` or an order row to insert; its result (or exception) goes to
    a ``concurrent.futures`` future (a blocking caller) or an asyncio future (resolved on its
    loop, one callback per loop per group), and only after the group's COMMIT. Order rows
    queued on the event loop are handed to the thread once per loop iteration, and
    consecutive ones are inserted with one ``executemany``."""

    def __init__(self, db: sqlite3.Connection, group_window: float, max_group: int) -> None:
        self.db = db
        self.group_window = group_window
        self.max_group = max_group
        self.jobs = 0
        self.commits = 0
        self.largest = 0
        self.handovers = 0
        """Lists of jobs put on the thread's queue (each may wake it)."""
        self._queue: queue.SimpleQueue[list[Job] | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._batch: list[Job] = []
        """Jobs queued on the event loop since its last iteration (handed over together)."""
        self._soon = False
        """A hand-over is scheduled for the end of this loop iteration."""
        self._later = False
        """A lazy hand-over is scheduled (``LAZY_HANDOVER``)."""
        self._urgent = threading.Event()
        """Set by an urgent job: the group window ends now."""
        self.refused: collections.deque[str] = collections.deque(maxlen=REFUSED_KEPT)
        """The hashes of the order rows whose insert failed (a lock held past the busy
        timeout, a full disk), oldest first: their node writes again those it still holds
        (chaos69: nothing did, and an open order traded from memory had no row)."""
        self.checkpointer = checkpointer_for(db)
        """Checkpoints the WAL off this thread (``sdex.storecheckpoint``), if ``db``'s own
        automatic checkpoint is off; woken after commits."""
        self._thread = threading.Thread(target=self._run, name="sdex-store", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], T], urgent: bool = False) -> Future[T]:
        """Queue ``fn``; ``urgent``: its transaction does not wait out the group window (its
        waiter is on a latency path and groups with what is queued already). Refused once the
        store closes, but from a job of the writer's own (committed before it stops: users89,
        a read's mark of a damaged row it met, queued by the read's job in the last group, was
        refused, and the next start did not name the row)."""
        fut: Future[T] = Future()
        with self._lock:
            if self._closed and threading.current_thread() is not self._thread:
                raise StoreError("the store is closed")
            self._hand_over()  # what the loop queued first goes first
            self._queue.put([(fn, None, fut, None)])
            self.handovers += 1
            if urgent:
                self._urgent.set()
        return fut

    def submit_async(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """``submit`` from the event loop, which never blocks on it: queued with the loop's
        order rows (in order with them), handed over at the end of this loop iteration;
        the future resolves on the loop at the commit (a failure is logged there)."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue_on_loop((fn, None, None, fut))
        return fut

    def insert_async(self, row: tuple[object, ...], fut: asyncio.Future[None] | None) -> None:
        """Queue an order row (on the event loop). With ``fut`` (someone waits for its
        commit) it is handed over at the end of this loop iteration; without, within
        ``LAZY_HANDOVER``, and its commit wakes nobody (a failure is logged here)."""
        self._queue_on_loop((None, row, None, fut))

    def _queue_on_loop(self, job: Job) -> None:
        fut = job[3]
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            self._batch.append(job)
            if fut is not None:
                if not self._soon:
                    self._soon = True
                    fut.get_loop().call_soon(self._hand_over_locked)
            elif not self._later:
                self._later = True
                asyncio.get_running_loop().call_later(LAZY_HANDOVER, self._hand_over_lazy)

    def hand_over_now(self) -> None:
        """Hand what the loop queued to the thread now, not at the end of this loop iteration
        (a wallet group's rows, once its last is queued: their commit starts a turn sooner,
        wait74); the hand-over scheduled still runs, for whatever is queued after."""
        with self._lock:
            self._hand_over()

    def _hand_over_locked(self) -> None:
        with self._lock:
            self._soon = False
            self._hand_over()

    def _hand_over_lazy(self) -> None:
        with self._lock:
            self._later = False
            self._hand_over()

    def _hand_over(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self._queue.put(batch)
            self.handovers += 1

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued, stop the thread, close the database; past ``timeout``
        (``CLOSE_WAIT``) the hung writer is logged and left (its connection open: it may
        still be in a statement; a daemon thread, it ends with the process)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._hand_over()
            self._queue.put(None)
        if self.checkpointer is not None:  # (first: a blocking checkpoint holds commits off)
            self.checkpointer.close()
        wait = CLOSE_WAIT if timeout is None else timeout
        self._thread.join(wait)
        if self._thread.is_alive():
            log.error("the store's writer did not stop within %gs; closing without it", wait)
            return
        self.db.close()

    def _run(self) -> None:
        busy = False
        while True:
            first = self._queue.get()
            if first is None:
                self._drain()
                return
            self._gate()  # (a blocking checkpoint holds commits off)
            if busy and self.group_window > 0 and not self._urgent.is_set():
                self._urgent.wait(self.group_window)  # under load: let the group fill up
            self._urgent.clear()  # (an urgent job queued from now waits for no window)
            group = list(first)
            stop = False
            batches = 1
            while len(group) < self.max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.extend(more)
                batches += 1
            # busy: hand-overs come faster than commits (writer27: not "the group held more
            # than one job"; a loop's hand-over, lazy rows above all, holds many, and a window
            # after each of those was one more sleep and GIL wait a commit, gathering nothing)
            busy = batches > 1
            self._commit(group)
            if stop:
                self._drain()
                return

    gate_failures = 0
    """Commits whose ``Checkpointer.gate`` raised (each went on without it)."""
    checkpoint_failures = 0
    """Commits whose ``Checkpointer.committed`` (the checkpoint thread's wake) raised."""
    _gate_said: frozenset[str] = frozenset()
    """The kinds of checkpointer failure logged (``_guarded``): the call,
    the exception's type and its message's words, numbers masked; ``GATE_SAID`` at most."""

    def _gate(self) -> None:
        """The checkpointer's wait before a commit (``Checkpointer.gate``), outside the
        commit's transaction and before the group gathers (what comes meanwhile joins it).
        A wait, not a write: whatever it raises is logged once a kind and the commit goes on
        (store95: uncaught, it ended this thread, every write after it waiting for good;
        inside ``_commit``'s try it would refuse every group's rows instead). review96b: it
        was logged once for the process's life: a later failure of another kind (another
        defect, the first gone) was never seen; counted nowhere."""
        if self.checkpointer is not None and not self._guarded(self.checkpointer.gate):
            self.gate_failures += 1

    def _guarded(self, call: Callable[[], None]) -> bool:
        """``call`` (the checkpointer's): whether it returned (a failure logged once a kind)."""
        try:
            call()
        except Exception as e:
            what = "gate" if getattr(call, "__name__", "") == "gate" else "wake"  # (a partial:
            # none; review98b, the AttributeError raised out of here, ending the thread)
            kind = f"{what} {type(e).__name__}: {re.sub(r'[0-9]+', 'N', str(e))[:200]}"
            if kind not in self._gate_said and len(self._gate_said) < GATE_SAID:
                self._gate_said |= {kind}
                log.exception(
                    "the store's checkpoint %s failed (%d so far); commits go on without it",
                    what,
                    self.gate_failures + self.checkpoint_failures + 1,
                )
            return False
        return True

    def _drain(self) -> None:
        """At the stop: what the last groups' jobs queued (``submit`` from this thread),
        committed, until nothing more is."""
        while True:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                return
            if more:  # (None: the stop, already met)
                self._commit(more)

    def _commit(self, group: list[Job]) -> None:
        db = self.db
        results: list[tuple[bool, Any]] = []
        try:
            # IMMEDIATE: the write lock first (waiting as the busy timeout allows). A deferred
            # BEGIN read first; a blocking checkpoint (``sdex.storecheckpoint``) could then
            # take the write lock and wait for that very read, and the job's first write got
            # "database is locked" at once (SQLite calls no busy handler for a read
            # transaction's upgrade): the node's fills write failed (settle25, wal24's).
            rows_only = all(job[0] is None for job in group)  # (rows only: no savepoint)
            if rows_only and len(group) <= ROWS_A_STATEMENT:  # (most groups: one statement)
                results = _insert_alone(db, [job[1] for job in group])
            else:
                db.execute("BEGIN IMMEDIATE")
                if rows_only:
                    results = _insert_group(db, [job[1] for job in group])
                else:
                    results = _run_group(db, group)
                db.execute("COMMIT")
        except Exception as e:  # the transaction itself failed: nothing of it was kept
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed")
            err = StoreError(f"commit failed: {type(e).__name__}: {e}")
            results = [(False, err)] * len(group)
        else:
            self.commits += 1
            # (store97: guarded as ``_gate``; it raised out of here after the COMMIT, before
            # the group was answered: the thread ended, every waiter waited for good)
            if self.checkpointer is not None and not self._guarded(self.checkpointer.committed):
                self.checkpoint_failures += 1
        self.jobs += len(group)
        self.largest = max(self.largest, len(group))
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        unwaited: list[Any] = []
        for (fn, row, cf, af), (ok, value) in zip(group, results, strict=True):
            if fn is None and not ok and row:
                self.refused.append(str(row[0]))  # (an order row: its hash first)
            if cf is not None:
                # (a waiter that gave up cancelled it: what the job wrote stands)
                with contextlib.suppress(InvalidStateError):
                    if ok:
                        cf.set_result(value)
                    else:
                        cf.set_exception(value)
            elif af is not None:
                by_loop.setdefault(af.get_loop(), []).append((af, ok, value))
            elif not ok:  # a row nobody waits for (add_order_async's waited=False)
                unwaited.append(value)
        if unwaited:  # (one line a group: review71, a line a row, each written again a second)
            log.error("an order could not be stored: %s (%d such rows)", unwaited[0], len(unwaited))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, items)


def _run_group(db: sqlite3.Connection, group: list[Job]) -> list[tuple[bool, Any]]:
    """A group's jobs in the open transaction, each in its own savepoint (consecutive order
    rows together: ``_insert_rows``)."""
    results: list[tuple[bool, Any]] = []
    i = 0
    while i < len(group):
        fn = group[i][0]
        if fn is not None:
            results.append(_run_job(db, fn))
            i += 1
            continue
        j = i
        while j < len(group) and group[j][0] is None:
            j += 1
        results.extend(_insert_rows(db, [job[1] for job in group[i:j]]))
        i = j
    return results


def _run_job(db: sqlite3.Connection, fn: Fn) -> tuple[bool, Any]:
    """One job in its own savepoint: if it fails, it undoes only itself."""
    db.execute("SAVEPOINT job")
    try:
        value = fn(db)
    except Exception as e:
        db.execute("ROLLBACK TO job")
        db.execute("RELEASE job")
        error = StoreError(f"{type(e).__name__}: {e}")
        error.__cause__ = e  # (the job's own, for a caller that knows it: ``Store._bind``)
        return False, error
    db.execute("RELEASE job")
    return True, value


def _insert_rows(db: sqlite3.Connection, rows: list[Any]) -> list[tuple[bool, Any]]:
    """Order rows among other jobs: multi-row ``INSERT``s (``_insert_many``, as
    ``_insert_group``) in one savepoint; if one fails, one by one (each alone). (settle29:
    ``executemany`` of one row a statement cost 24-37 us a row here against 14-21, each
    statement's end walking the savepoint's statement journal from its start.)"""
    rows = [serialised(r) for r in rows]
    db.execute("SAVEPOINT rows")
    try:
        _insert_chunks(db, rows)
    except Exception:
        db.execute("ROLLBACK TO rows")
        db.execute("RELEASE rows")
        return [_run_job(db, _inserter(r)) for r in rows]
    db.execute("RELEASE rows")
    return [(True, None)] * len(rows)


def _insert_chunks(db: sqlite3.Connection, rows: list[Any]) -> None:
    """``rows`` (serialised) in multi-row ``INSERT``s of ``ROWS_A_STATEMENT`` at most."""
    for k in range(0, len(rows), ROWS_A_STATEMENT):
        chunk = rows[k : k + ROWS_A_STATEMENT]
        db.execute(_insert_many(len(chunk)), [v for r in chunk for v in r])


def _insert_group(db: sqlite3.Connection, rows: list[Any]) -> list[tuple[bool, Any]]:
    """A group of order rows only, in the open transaction, with no savepoint (writer27: each
    statement the writer runs gives up the GIL and takes it back, a sleep when the event loop
    holds it; here the group is ``BEGIN``, one multi-row ``INSERT`` a ``ROWS_A_STATEMENT``
    rows, ``COMMIT``). If a row is refused, the transaction is rolled back and begun again,
    and the rows go in one by one, each alone (``_insert_rows``'s way): the same outcome."""
    rows = [serialised(r) for r in rows]
    try:
        _insert_chunks(db, rows)
    except Exception:
        if db.in_transaction:  # (some errors, SQLITE_FULL say, end it themselves)
            db.execute("ROLLBACK")
        db.execute("BEGIN IMMEDIATE")
        return [_run_job(db, _inserter(r)) for r in rows]
    return [(True, None)] * len(rows)


def _insert_alone(db: sqlite3.Connection, rows: list[Any]) -> list[tuple[bool, Any]]:
    """A group of up to ``ROWS_A_STATEMENT`` order rows only, as one multi-row ``INSERT`` run
    alone: its own transaction, committed when it returns (wake60: each statement the writer
    runs gives up the GIL twice, its step and its reset, and waits to take it back while the
    event loop holds it; ``BEGIN IMMEDIATE`` and ``COMMIT`` around it were two statements
    more a commit). SQLite takes the write lock at the statement's start as ``BEGIN
    IMMEDIATE`` does (waiting as the busy timeout allows) and commits before it returns, as
    durably as a ``COMMIT``. If a row is refused, nothing of the statement stays: the rows
    go in one by one, each alone, in one transaction (``_insert_group``'s way): the same
    outcome."""
    rows = [serialised(r) for r in rows]
    try:
        db.execute(_insert_many(len(rows)), [v for r in rows for v in r])
    except Exception:
        if db.in_transaction:  # (a statement's failure ends its own; never left open)
            db.execute("ROLLBACK")
        db.execute("BEGIN IMMEDIATE")
        results = [_run_job(db, _inserter(r)) for r in rows]
        db.execute("COMMIT")
        return results
    return [(True, None)] * len(rows)


ROWS_A_STATEMENT = 32
"""Order rows in one multi-row ``INSERT`` (12 parameters a row: far under SQLite's bound;
at most this many statements in the connection's cache, one per row count)."""


@functools.cache
def _insert_many(n: int) -> str:
    """``INSERT_ORDER`` for ``n`` rows in one statement (the same conflict rules, row by row,
    in order; the triggers fire per row)."""
    head, values, tail = INSERT_ORDER.partition("VALUES " + ORDER_VALUES)
    assert values, "INSERT_ORDER's VALUES clause changed"
    return head + "VALUES " + ",".join([ORDER_VALUES] * n) + tail


def _inserter(row: Any) -> Fn:
    def insert(db: sqlite3.Connection) -> None:
        db.execute(INSERT_ORDER, row)

    return insert


def _resolve(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """Wake an asyncio group's waiters. A failure is logged here, whether anyone awaits it
    or not (no done-callback per future: each would be one more loop callback per row)."""
    for fut, ok, value in items:
        if not ok:
            log.error("a write could not be stored: %s", value)
        if fut.done():
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)
            fut.exception()  # logged above: no "exception never retrieved" if nobody awaits


def log_failure(fut: asyncio.Future[Any] | Future[Any]) -> None:
    """A done-callback for a write nobody waits for: its failure is logged."""
    if not fut.cancelled() and (e := fut.exception()) is not None:
        log.error("a write could not be stored: %s", e)
