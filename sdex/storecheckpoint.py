"""The WAL checkpointer of a node's store (``sdex.sqlwriter.Writer``): a connection and a
thread of its own, so that no commit waits for a checkpoint.

The writer's connection runs with ``wal_autocheckpoint=0`` (``sdex.storeschema.PRAGMAS``):
SQLite's automatic checkpoint (at 1,000 pages) ran inside the writer's COMMIT, so some
commits took 30-100 ms of wall time, and every write of their group waited for it (http23).
Here a thread copies the WAL back into the database with ``wal_checkpoint(PASSIVE)`` (it
waits for nobody and holds nobody up) once the writer has committed about
``TARGET_FRAMES`` pages since the last (the commits' count, scaled by the pages a commit
wrote until then: the frames a checkpoint found past the last one's, or all it found once the
writer started the WAL over, its header's salt-1 changed), and after an ``INTERVAL`` with
no commit if anything was committed since the last.

A reader holding an old snapshot stops a passive checkpoint short of the WAL's end, and the
writer cannot start the WAL over: past ``HARD_FRAMES`` frames the checkpoint is a blocking
one (``TRUNCATE``: it waits up to ``BLOCKING_WAIT`` seconds for the readers, holding the
writer off meanwhile, then empties the file; if a reader outlasts that, it is logged and
tried again ``BLOCKING_BACKOFF`` seconds later), so the WAL does not grow without bound
while readers come and go. The writer waits at its next commit while a blocking checkpoint
runs, and past ``WAIT_FRAMES`` for a checkpoint that copies its last commit (``gate``): a
writer that never paused outran both (wal91). Durability is unchanged: a commit is in the
WAL when it returns (the writer's ``synchronous=NORMAL``, which this connection shares: the
WAL is synced before each checkpoint, the database after); a checkpoint only moves committed
pages into the database. Whatever a checkpoint raises is logged and the thread goes on: it
alone keeps the WAL bounded (review26: an exception that was not sqlite3's ended it silently).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

log = logging.getLogger("sdex.store")

TARGET_FRAMES = 1000
"""WAL frames (pages) between two passive checkpoints: SQLite's own automatic bound."""
FIRST_EVERY = 16
"""Commits between two checkpoints until the pages a commit writes are known."""
INTERVAL = 1.0
"""Seconds with no commit after which what was committed since the last checkpoint is
checkpointed (while the writer commits, ``TARGET_FRAMES`` alone wakes the thread)."""
RESTART_FRAMES = 8000
"""WAL frames past which, after the passive checkpoint, a ``RESTART`` one copies the few
frames committed meanwhile and starts the WAL over (holding the writer off for that short
copy and its sync): a writer that never pauses never lets a passive one reach the WAL's end,
and the WAL starts over only from a checkpoint that did."""
HARD_FRAMES = 25_000
"""WAL frames (pages; ~100 MB at 4 KiB) past which the checkpoint is a blocking one."""
BLOCKING_WAIT = 1.0
"""Seconds a blocking checkpoint waits for readers (and holds the writer off): well under
the writer's busy timeout (``sqlite3.connect``'s 5 s), or its commits would fail."""
BLOCKING_BACKOFF = 10.0
"""Seconds after a blocking checkpoint that a reader outlasted before the next is tried (a
long reader must not hold the writer off ``BLOCKING_WAIT`` of every few commits)."""
WAIT_FRAMES = 2 * RESTART_FRAMES
"""WAL frames (estimated: the commits since it started over, by the pages a commit writes)
past which the writer waits for a checkpoint that begins after it stopped (``gate``): one
that reaches the WAL's end, so that it starts over."""
HOLD_WAIT = 2.0
"""Seconds the writer waits at most, before a commit, while a blocking checkpoint holds it
off or for a checkpoint past ``WAIT_FRAMES`` (``gate``); then it commits (waiting as
SQLite's busy timeout allows)."""
CLOSE_WAIT = 10.0
"""Seconds ``close`` waits for the thread (a checkpoint is interrupted first)."""


class Checkpointer:
    """The thread that checkpoints the WAL of the database at ``path``; ``committed`` (the
    writer thread, after each commit) wakes it; ``close`` stops it."""

    def __init__(
        self,
        path: str,
        target_frames: int | None = None,
        interval: float | None = None,
        hard_frames: int | None = None,
        blocking_wait: float | None = None,
        blocking_backoff: float | None = None,
    ) -> None:
        self.target_frames = TARGET_FRAMES if target_frames is None else target_frames
        self.every = FIRST_EVERY
        """Commits between two wakes (from the frames the last checkpoint found)."""
        self.interval = INTERVAL if interval is None else interval
        self.hard_frames = HARD_FRAMES if hard_frames is None else hard_frames
        self.restart_frames = RESTART_FRAMES
        self.wal = path + "-wal"
        """The WAL file (its header read for the salt only)."""
        self._frames = 0
        """The WAL's frames at the last checkpoint (0 after one that started it over)."""
        self._salt: bytes | None = None
        """The WAL header's salt-1 read after the last checkpoint (``wal_salt``): None if
        unknown (none yet, or the file unread)."""
        wait = BLOCKING_WAIT if blocking_wait is None else blocking_wait
        self.backoff = BLOCKING_BACKOFF if blocking_backoff is None else blocking_backoff
        self._next_blocking = 0.0
        """``time.monotonic()`` before which no blocking checkpoint is tried."""
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA synchronous=NORMAL")  # (the writer's: the same syncs)
        self.db.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")  # (PASSIVE never waits)
        self.passive = 0
        self.blocking = 0
        self.busy = 0
        """Blocking checkpoints that a reader outlasted (``BLOCKING_WAIT``)."""
        self.failures = 0
        self.gate_waits = 0
        """Commits the writer held back at ``gate`` (a blocking checkpoint under way, or one
        waited for past ``WAIT_FRAMES``): ``/metrics`` ``sdex_store_gate_waits_total``."""
        self.gate_seconds = 0.0
        """Their seconds (``HOLD_WAIT`` at most each): ``sdex_store_gate_wait_seconds_total``."""
        self.last: tuple[int, int, int] | None = None
        """The last checkpoint's (busy, frames in the WAL, frames checkpointed)."""
        self.state = "idle"
        """``idle``, ``passive`` or ``blocking``: what the thread is doing."""
        self._commits = 0
        self._nudged = 0
        self._done = 0
        self._ticked = 0
        """The commits at the last interval that passed with no wake: one more with none
        committed since, and a checkpoint is due (if anything was since the last)."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._open = threading.Event()
        """Cleared while a blocking checkpoint runs: the writer waits for it (``gate``)."""
        self._open.set()
        self._rounds = threading.Condition()
        """Notified at each checkpoint's end: a writer past ``WAIT_FRAMES`` waits for one
        that copied its last commit (``gate``)."""
        self._covered = 0
        """The commits copied by the last checkpoint that finished (those when it began)."""
        self._origin = 0
        """The commits when the WAL last started over (about)."""
        self._last_end = 0
        """The commits at the last checkpoint's end."""
        self._restarted = False
        """The round's blocking checkpoint copied every frame (``_origin`` set by it)."""
        self._thread = threading.Thread(target=self._run, name="sdex-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """The writer committed (on its thread)."""
        self._commits += 1
        if self._commits - self._nudged >= self.every:
            self._nudged = self._commits
            self._wake.set()

    def gate(self) -> None:
        """The writer, before a commit: waits while a blocking checkpoint runs (it took the
        write lock only between two commits, SQLite's busy handler sleeping 1, 2, 5... 100 ms
        between tries, and a writer that never paused took the lock back each time: the WAL
        grew to 65,000 frames, 255 MB, wal91), and past ``WAIT_FRAMES`` for a checkpoint
        that begins after it stopped (a passive checkpoint, copying random pages with two
        syncs, is slower than a writer appending them: 500 commits, 23,000 frames, went in
        during one under load). ``HOLD_WAIT`` at most each; counted, with their seconds
        (store95: a stuck checkpoint thread cost each commit up to 2 s, seen nowhere)."""
        if self._stop.is_set():  # (closed: the writer's last commits wait for nothing)
            return
        began = time.monotonic()
        held = not self._open.is_set()
        if held:
            self._open.wait(HOLD_WAIT)
        if self._commits - self._origin >= WAIT_FRAMES * self.every // self.target_frames:
            held = True
            self._wait_round()
        if held:
            self.gate_waits += 1
            self.gate_seconds += time.monotonic() - began

    def _wait_round(self) -> None:
        """``gate`` past ``WAIT_FRAMES``: a checkpoint that copies the last commit waited for,
        ``HOLD_WAIT`` at most."""
        commits = self._commits
        until = time.monotonic() + HOLD_WAIT
        with self._rounds:  # (no ``Condition.wait_for``: the package's rule is no wait_for)
            self._wake.set()
            while self._covered < commits and not self._stop.is_set():
                if (left := until - time.monotonic()) <= 0 or not self._rounds.wait(left):
                    break
        self._origin = self._commits  # (it copied every frame: the next commit starts over)

    def request(self) -> None:
        """Checkpoint now (if anything was committed since the last)."""
        self._wake.set()

    def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Stop the thread (a checkpoint under way is interrupted) and close the connection;
        past ``timeout`` the thread is logged and left (a daemon, it ends with the process)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        with self._rounds:
            self._rounds.notify_all()
        self.db.interrupt()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the store's checkpointer did not stop within %gs; left", timeout)
            return
        self.db.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not woken and self._commits != self._ticked:
                # (writer27: the interval's checkpoint waits for a quiet interval; while the
                # writer commits, the frames' count wakes this thread: a checkpoint a second
                # at any rate was a GIL wait or several of the event loop's, each a wake-up)
                self._ticked = self._commits
                continue
            try:
                self._round()
            except Exception:  # (review26: the thread died silently, the WAL grew unbounded)
                self.failures += 1
                self.state = "idle"
                log.exception("the store's checkpointer failed; it goes on")

    def _round(self) -> None:
        """A checkpoint if anything was committed since the last; the commits between two
        wakes from the frames it found new. ``idle`` once all of it is done (wal91: idle
        at the checkpoint's end, the tests' waits let the writer commit before the salt's
        second read)."""
        commits = self._commits
        if commits == self._done:
            return
        try:
            self.state = "passive"  # (before ``_done``: idle with every commit done is a
            # checkpoint finished, not one about to start, as the tests' waits read it: wal89)
            since, self._done = commits - self._done, commits
            before, was = self._frames, self._salt
            salt = wal_salt(self.wal)
            self._restarted = False
            frames = self.checkpoint()
            self._salt = after = wal_salt(self.wal)
            new = self._new(frames, before, was, salt, after)
            if after != salt:  # (the WAL started over during this round: none of the new
                self._frames = 0  # one's frames are counted yet; wal91, it was left unknown)
                self._origin = self._commits
            elif salt != was and not self._restarted:  # (at the writer's first commit
                # after the last checkpoint; store95: not over the origin a RESTART of this
                # round set, the commits it copied counted again, the writer waiting early)
                self._origin = self._last_end
            if new and new * 8 >= self.target_frames:  # (a few commits' pages, an
                # interval's after a pause, are no measure: 2 commits' 5 frames paced 400)
                self.every = max(1, min(1000, self.target_frames * since // new))
            elif new and since >= self.every:  # (a paced round's few pages: review93d, one
                # large commit paced 1 commit a wake, its next rounds' pages never measured
                # again; at most twice the last, a round's count of commits being rough)
                self.every = max(1, min(1000, 2 * self.every, self.target_frames * since // new))
        finally:
            self.state = "idle"
            self._last_end = self._commits
            with self._rounds:
                self._covered = self._done
                self._rounds.notify_all()

    @staticmethod
    def _new(
        frames: int, before: int, was: bytes | None, salt: bytes | None, after: bytes | None
    ) -> int | None:
        """The frames a checkpoint that found ``frames`` found new, ``before`` found by the
        last (WAL salt-1 ``was`` after it), the salt read ``salt`` before this one and
        ``after`` it; None if that cannot be told.

        The writer starts the WAL over (salt-1 + 1) at its first commit after a checkpoint
        that copied every frame, and only this thread checkpoints: a WAL started over since
        the last round (``salt`` not ``was``) is the one this checkpoint read, all of its
        frames new (wal90: 700 after a restart against 569 counted 131 new, the wait grew ~5x
        and the WAL with it). Started over during this round (``after`` not ``salt``), the
        checkpoint read the old WAL (``frames - before`` new) or the new one (all new, none
        left uncopied in the old): fewer than ``before`` it was the new one, else it cannot
        be told (wal91: the old rule, the old WAL's count taken from the new WAL's on the next
        round, grew the wait to its cap of 1,000 commits and the WAL to 6,500 frames)."""
        if was is None or salt is None:  # (unread: only a count below the last is all new)
            return frames - before if frames >= before else frames
        if salt != was:
            return frames
        if frames < before:  # (a WAL started over during this round, read after the start)
            return frames
        if after == salt or before == 0:
            return frames - before
        return None

    def checkpoint(self) -> int:
        """One checkpoint: passive, then a blocking one if the WAL is past ``hard_frames``;
        the frames the passive one found in the WAL (0 if it failed)."""
        frames = 0
        try:
            self.state = "passive"
            row = self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.passive += 1
            frames = self._frames = int(row[1])
            mode = "TRUNCATE" if frames >= self.hard_frames else "RESTART"
            if frames >= min(self.hard_frames, self.restart_frames) and (
                time.monotonic() >= self._next_blocking
            ):
                self.state = "blocking"
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # (what came meanwhile)
                self._open.clear()  # (the writer waits at its next commit: ``gate``)
                try:
                    row = self.db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                    if not row[0]:  # (the WAL starts over: what the writer committed since
                        # this round began is copied, none of its frames new to the next)
                        self._frames = 0
                        self._done = self._origin = self._commits
                        self._restarted = True
                finally:
                    self._open.set()
                self.blocking += 1
                if row[0]:
                    self.busy += 1
                    self._next_blocking = time.monotonic() + self.backoff
                    log.warning(
                        "the WAL holds %d frames and a reader outlasted a blocking (%s) "
                        "checkpoint; tried again in %gs", frames, mode, self.backoff,
                    )  # fmt: skip
            self.last = (int(row[0]), int(row[1]), int(row[2]))
        except sqlite3.Error as e:
            if self._stop.is_set():  # (interrupted by close)
                log.info("a WAL checkpoint was stopped by the store's close: %s", e)
            else:
                self.failures += 1
                log.error("a WAL checkpoint failed: %s: %s", type(e).__name__, e)
        return frames


def wal_salt(wal: str) -> bytes | None:
    """The salt-1 of the WAL file ``wal``'s header (SQLite adds 1 to it each time it starts
    the WAL over); b"" for a WAL not begun (no file, or emptied); None if unreadable."""
    try:
        with open(wal, "rb") as f:
            head = f.read(20)
    except FileNotFoundError:
        return b""
    except OSError:
        return None
    return head[16:20] if len(head) == 20 else b""


def checkpointer_for(db: sqlite3.Connection) -> Checkpointer | None:
    """A checkpointer for the writer's connection ``db``, if it needs one: a database in a
    file, in WAL mode, with the automatic checkpoint off (``sdex.storeschema.PRAGMAS``)."""
    file = db.execute("PRAGMA database_list").fetchone()[2]
    if not file or str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        return None
    if db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] != 0:
        return None
    return Checkpointer(file)
