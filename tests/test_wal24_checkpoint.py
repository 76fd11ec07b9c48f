"""The store's WAL checkpoints run off the writer (``sdex.storecheckpoint``), on a real SQLite
store: the writer's own automatic checkpoint is off, the WAL stays bounded over many commits,
a reader holding a snapshot meets the blocking fallback (and the WAL is emptied once it
lets go), a store closed in the middle of a checkpoint closes cleanly, and a process killed
mid-run keeps every row it committed."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import sdex.storecheckpoint as sc
from sdex.order import Domain
from sdex.store import ChainIdentity, Store
from sdex.storecheckpoint import Checkpointer
from sdex.storeschema import INSERT_ORDER

DOMAIN = Domain(31337, "0x" + "ab" * 20)
IDENTITY = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "00" * 32)
ROOT = Path(__file__).resolve().parents[1]


def until(cond: Callable[[], bool], bound: float = 20.0) -> None:
    end = time.monotonic() + bound
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.001)


def rows(first: int, n: int) -> list[tuple[object, ...]]:
    now = time.time()
    body = '{"pad": "' + "x" * 400 + '"}'
    return [
        ("0x" + secrets.token_hex(32), seq, "0x" + "11" * 20, "0x" + "01" * 20,
         "0x" + "02" * 20, body, "open", "api", "gtc", now, now, "0x" + "00" * 20)
        for seq in range(first, first + n)
    ]  # fmt: skip


def commit_rows(store: Store, first: int, n: int) -> None:
    batch = rows(first, n)
    store._call(lambda db: db.executemany(INSERT_ORDER, batch))


@contextlib.contextmanager
def opened_store(path: Path) -> Iterator[Store]:
    """A store at ``path`` (``IDENTITY``, ``DOMAIN``), closed at exit."""
    store = Store(path, IDENTITY, DOMAIN)
    try:
        yield store
    finally:
        store.close()


def answered_rows(store: Store, first: int, n: int = 20) -> None:
    """``n`` rows from ``first`` written through the store's writer, its answer waited for
    (30 s at most: a writer whose thread ended never answers)."""
    batch = rows(first, n)
    store._writer.submit(lambda db: db.executemany(INSERT_ORDER, batch)).result(timeout=30)


def checkpointer(store: Store) -> Checkpointer:
    cp = store._writer.checkpointer
    assert cp is not None
    return cp


@contextlib.contextmanager
def snapshot_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wait: float, backoff: float
) -> Iterator[tuple[Path, Store, sqlite3.Connection, Checkpointer]]:
    """A store whose blocking checkpoints start past 300 frames and wait ``wait`` seconds
    (``backoff`` after one a reader outlasted), its checkpointer, and a reader holding a
    snapshot of it; both closed at the end (again, if the body closed them)."""
    monkeypatch.setattr(sc, "HARD_FRAMES", 300)
    monkeypatch.setattr(sc, "BLOCKING_WAIT", wait)
    monkeypatch.setattr(sc, "BLOCKING_BACKOFF", backoff)
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        cp = checkpointer(store)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM orders").fetchone()  # (a snapshot held)
        yield path, store, reader, cp
    finally:
        reader.close()
        store.close()


def commit_then_request(store: Store, cp: Checkpointer, seq: int) -> int:
    """20 rows committed from ``seq`` and a checkpoint asked for; the next ``seq``."""
    commit_rows(store, seq, 20)
    cp.request()
    return seq + 20


def grow_until_busy(store: Store, cp: Checkpointer, seq: int) -> int:
    """Rows committed 20 a checkpoint from ``seq`` until a blocking checkpoint was tried and
    the reader outlasted it (a passive one cannot pass the reader: the WAL grows); the next
    ``seq``."""
    while cp.busy == 0:
        seq = commit_then_request(store, cp, seq)
        until(lambda: cp.state == "idle" and cp._done == cp._commits)
        assert seq < 200_000, "no blocking checkpoint was tried"
    return seq


def wal_size(path: Path) -> int:
    try:
        return os.path.getsize(str(path) + "-wal")
    except FileNotFoundError:
        return 0


def count(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
    finally:
        db.close()


def wal_salt(path: Path) -> bytes:
    """The WAL header's salt-1: SQLite adds 1 to it each time it starts the WAL over."""
    with open(str(path) + "-wal", "rb") as f:
        return f.read(32)[16:20]


def test_the_writer_never_checkpoints_and_the_wal_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the checkpoints asked for, each after its burst's last commit (wal89). The
    # checkpointer's own (16 commits in, or after a second with none) finished while the
    # writer's caller stalled, as it does in a loaded whole-suite run, started the WAL over
    # part way through the first burst, the bound's measure: 1.17 MB, not a burst's 2.3 MB,
    # while a later burst writes up to 1.9 times the first's pages (the indexes have grown).
    monkeypatch.setattr(sc, "FIRST_EVERY", 10**6)
    monkeypatch.setattr(sc, "TARGET_FRAMES", 10**9)
    monkeypatch.setattr(sc, "INTERVAL", 3600.0)
    monkeypatch.setattr(sc, "WAIT_FRAMES", 10**12)  # (nor one the writer waits for: wal91)
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        assert store._call(lambda db: db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0
        assert store._call(lambda db: db.execute("PRAGMA synchronous").fetchone()[0]) == 1
        cp = checkpointer(store)
        sizes, salts = [], []
        seq = 1
        for _ in range(12):  # bursts of 25 commits, each burst checkpointed before the next
            for _ in range(25):
                commit_rows(store, seq, 20)
                seq += 20
            cp.request()
            until(lambda: cp._done == cp._commits and cp.state == "idle")
            assert cp.last is not None and cp.last[1] == cp.last[2], cp.last  # (every frame)
            sizes.append(wal_size(path))
            salts.append(wal_salt(path))
        assert cp.failures == 0 and cp.passive == 12
        # the WAL started over after each checkpoint: its file is one burst's, not twelve's
        assert len(set(salts)) == 12, salts
        assert max(sizes) <= 3 * sizes[0], sizes
        assert count(path) == seq - 1
    finally:
        store.close()


def test_the_default_pacing_keeps_the_wal_near_target_frames(tmp_path: Path) -> None:
    # wal90: the pacing counted the frames a checkpoint found past the last one's as new,
    # though the writer had started the WAL over since: 700 against 569 counted 131, the
    # commits between wakes grew ~5x, the WAL to 6,000+ frames (RESTART_FRAMES stops it).
    # Each wake's checkpoint is waited for before the next commit: the writer never runs
    # ahead of it, so the WAL holds what the pacing lets in, about TARGET_FRAMES (pages a
    # commit grow a little between two wakes: twice that is the bound).
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        cp = checkpointer(store)
        page = store._call(lambda db: db.execute("PRAGMA page_size").fetchone()[0])
        found = []
        seq = 1
        while len(found) < 12:  # one row a commit: ~150 commits between two wakes
            commit_rows(store, seq, 1)
            seq += 1
            if cp._nudged == cp._commits:  # (this commit woke it)
                until(lambda: cp._done == cp._commits and cp.state == "idle")
                assert cp.last is not None
                found.append(cp.last[1])
            assert seq < 50_000, found
        bound = 2 * sc.TARGET_FRAMES
        assert max(found) <= bound, found
        assert wal_size(path) <= 32 + bound * (24 + page), (wal_size(path), found)
        assert cp.failures == 0 and cp.blocking == 0
    finally:
        store.close()
    assert count(path) == seq - 1


def test_the_pacing_counts_a_wal_started_over_while_the_round_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wal91: the writer commits between a round's checkpoint and its second read of the WAL
    # salt, as a whole-suite run's test did once (its wait saw the thread idle there): the
    # writer started the WAL over, the salt was stored as unknown, and the next round took
    # the frames new as those past the last count, made on the old WAL (994 against 983: 11
    # new): the wait between wakes grew to its cap, 1,000 commits, and the WAL to 6,594
    # frames. Here a commit lands there in every round.
    seqs = itertools.count(1)
    real = sc.wal_salt
    reads = itertools.count(1)
    hooked = True

    def started_over_meanwhile(wal: str) -> bytes | None:
        if next(reads) % 2 == 0 and hooked:  # (a round's second read: the checkpoint copied
            commit_rows(store, next(seqs), 1)  # every frame, this commit starts it over)
        return real(wal)

    monkeypatch.setattr(sc, "wal_salt", started_over_meanwhile)
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        cp = checkpointer(store)
        found: list[int] = []
        salts = set()
        nudged = passive = 0
        while len(found) < 12:  # one row a commit: ~150 commits between two wakes
            commit_rows(store, next(seqs), 1)
            if cp._nudged != nudged:  # (a commit woke it: this one or the hook's)
                nudged = cp._nudged
                until(lambda p=passive: cp.passive > p and cp.state == "idle")
                passive = cp.passive
                assert cp.last is not None
                found.append(cp.last[1])
                salts.add(wal_salt(path))
            assert cp._commits < 50_000, found
        hooked = False
        assert len(salts) >= 10, salts  # (the WAL started over in the rounds)
        assert max(found) <= 2 * sc.TARGET_FRAMES, found
        assert cp.failures == 0 and cp.blocking == 0
    finally:
        hooked = False
        store.close()
    assert count(path) == next(seqs) - 1


class CommitsAroundTheRestart:
    """The checkpointer's connection: before the passive checkpoint of its first blocking
    round (``RESTART`` next), the writer commits ``n`` rows, one a commit (no blocking round
    after it), and 25 more before the next round's checkpoint (the WAL starts over: enough
    pages to pace from)."""

    def __init__(self, db: sqlite3.Connection, cp: Checkpointer, store: Store, n: int) -> None:
        self.db, self.cp, self.store, self.n = db, cp, store, n
        self.seqs = itertools.count(10**6)
        self.phase = 0

    def execute(self, sql: str) -> sqlite3.Cursor:
        if "PASSIVE" in sql and (self.phase, self.cp.state) in ((0, "blocking"), (1, "passive")):
            self.phase += 1
            self.cp.restart_frames = 10**9
            for _ in range(self.n if self.phase == 1 else 25):
                commit_rows(self.store, next(self.seqs), 1)
        return self.db.execute(sql)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


def test_the_pacing_does_not_count_commits_a_restart_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wal91: a blocking round's commits (after its first checkpoint's count) were copied by
    # its RESTART and their frames gone with the WAL started over, but their commits counted
    # in the next round's: 24 commits against 73 frames, the wait between wakes grew from 22
    # commits to 328, the WAL to 14,000-25,000 frames under a writer that never paused.
    monkeypatch.setattr(sc, "RESTART_FRAMES", 500)
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        cp = checkpointer(store)
        hook = CommitsAroundTheRestart(cp.db, cp, store, 400)
        cp.db = hook  # type: ignore[assignment]
        found = []
        seq = 1
        nudged = passive = 0
        while len(found) < 10:  # one row a commit: ~150 commits between two wakes
            commit_rows(store, seq, 1)
            seq += 1
            if cp._nudged != nudged:  # (a commit woke it: this one or the hook's)
                nudged, blocking = cp._nudged, cp.blocking
                until(lambda p=passive: cp.passive > p and cp.state == "idle")
                passive = cp.passive
                assert cp.last is not None
                if cp.blocking == blocking and hook.phase == 2:  # (the rounds after the restart)
                    found.append(cp.last[1])
            assert seq < 50_000, found
        assert cp.blocking >= 1 and cp.busy == 0 and cp.failures == 0
        assert max(found) <= 2 * sc.TARGET_FRAMES, found
    finally:
        store.close()
    assert count(path) == seq - 1 + 425


def test_a_writer_that_never_pauses_gets_its_wal_started_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sc, "RESTART_FRAMES", 200)
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        cp = checkpointer(store)
        seq = 1
        while cp.blocking < 3:  # one row a commit, back to back: RESTART ones start it over
            commit_rows(store, seq, 1)
            seq += 1
            assert seq < 200_000, "no RESTART checkpoint"
        until(lambda: cp.state == "idle")
        assert cp.busy == 0 and cp.failures == 0
    finally:
        store.close()
    assert count(path) == seq - 1


def test_a_writer_that_never_pauses_keeps_its_wal_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wal91: a passive checkpoint (random pages copied, two syncs) is slower than a writer
    # appending them, and a blocking one took the write lock only between two commits, its
    # busy handler asleep 1, 2, 5... 100 ms between tries: commits back to back grew the WAL
    # to 65,000 frames (255 MB) against RESTART_FRAMES 8,000. The writer now waits for a
    # blocking checkpoint, and past WAIT_FRAMES for one that copies its last commit.
    monkeypatch.setattr(sc, "RESTART_FRAMES", 1000)
    monkeypatch.setattr(sc, "WAIT_FRAMES", 2000)
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        cp = checkpointer(store)
        page = store._call(lambda db: db.execute("PRAGMA page_size").fetchone()[0])
        seq = 1
        while cp.blocking < 8:  # 20 rows a commit, back to back
            commit_rows(store, seq, 20)
            seq += 20
            assert seq < 400_000, "no blocking checkpoint"
        until(lambda: cp.state == "idle")
        assert cp.busy == 0 and cp.failures == 0
        # (the bound: WAIT_FRAMES, estimated from commits; pages a commit grow between two
        # checkpoints: twice it)
        assert wal_size(path) <= 32 + 2 * sc.WAIT_FRAMES * (24 + page), wal_size(path)
    finally:
        store.close()
    assert count(path) == seq - 1


def test_a_reader_holding_a_snapshot_meets_the_blocking_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with snapshot_held(tmp_path, monkeypatch, 0.2, 0.0) as (path, store, reader, cp):
        with caplog.at_level(logging.WARNING, logger="sdex.store"):
            seq = grow_until_busy(store, cp, 1)
        assert any("outlasted" in r.getMessage() for r in caplog.records)
        assert wal_size(path) > 300 * 4096
        reader.execute("COMMIT")  # the reader lets go: the next blocking one empties the WAL
        blocking = cp.blocking
        seq = commit_then_request(store, cp, seq)
        until(lambda: cp.blocking > blocking and cp.state == "idle" and cp._done == cp._commits)
        assert cp.last is not None and cp.last[0] == 0
        assert wal_size(path) < 300 * 4096  # (emptied; a commit since may have begun it again)
        assert cp.failures == 0
    assert count(path) == seq - 1


def test_a_reader_that_outlasts_a_blocking_checkpoint_is_not_waited_for_again_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with snapshot_held(tmp_path, monkeypatch, 0.1, 3600.0) as (path, store, _, cp):
        seq = grow_until_busy(store, cp, 1)
        passive = cp.passive
        for _ in range(30):  # the WAL stays past the bound; passive ones go on, no blocking
            seq = commit_then_request(store, cp, seq)
            until(lambda: cp.state == "idle" and cp._done == cp._commits)
        assert cp.blocking == 1 and cp.busy == 1 and cp.passive > passive
    assert count(path) == seq - 1


def test_a_store_closed_mid_checkpoint_closes_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with snapshot_held(tmp_path, monkeypatch, 2.0, 0.0) as (path, store, _, cp):
        seq = grow_until_busy(store, cp, 1)
        # the WAL is past the bound: this checkpoint blocks, waiting for the reader
        seq = commit_then_request(store, cp, seq)
        until(lambda: cp.state == "blocking")
        with caplog.at_level(logging.INFO, logger="sdex.store"):
            store.close()
        assert not cp._thread.is_alive() and not store._writer._thread.is_alive()
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    again = Store(path, IDENTITY, DOMAIN)
    try:
        n = again._call(lambda db: db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
        assert n == seq - 1
    finally:
        again.close()


CHILD = """
import sys, time
sys.path.insert(0, {root!r})
import sdex.storecheckpoint as sc
sc.TARGET_FRAMES = 200
sys.path.insert(0, {tests!r})
from test_wal24_checkpoint import IDENTITY, DOMAIN, commit_rows, checkpointer
from sdex.store import Store
store = Store({path!r}, IDENTITY, DOMAIN)
cp = checkpointer(store)
seq = 1
while True:
    commit_rows(store, seq, 10)
    seq += 10
    print(seq - 1, cp.passive, flush=True)
"""


def test_a_process_killed_mid_run_keeps_every_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    code = CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), path=str(path))
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    committed = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            committed, passive = (int(x) for x in line.split())
            if passive >= 5 and committed >= 3000:
                break
        else:
            raise AssertionError(f"the child stopped: {proc.wait()}")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert committed >= 3000
    store = Store(path, IDENTITY, DOMAIN)  # (recovers the WAL the killed process left)
    try:
        seqs = store._call(lambda db: [r[0] for r in db.execute("SELECT seq FROM orders")])
    finally:
        store.close()
    assert len(seqs) >= committed  # (a commit may have landed after its line was read)
    assert set(range(1, committed + 1)) <= set(seqs)
