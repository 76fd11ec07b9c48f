"""settle25 found (fixed on main by 552bfd5, ``BEGIN IMMEDIATE``): the store writer opened
each transaction with a deferred ``BEGIN``. A job that reads before it writes
(``remove_fills_except``, a SELECT then a DELETE) holds a read snapshot; a blocking checkpoint
(``RESTART``/``TRUNCATE``, sdex.storecheckpoint) takes the write lock and waits for that
reader; the job's first write then cannot get the write lock and SQLite answers "database is
locked" at once (no busy wait: it would deadlock). Seen in bench/node.py's settle phase on
Hardhat and anvil (18:26-18:47): the node's fills write failed, the watcher said "the store"
failing, orders were refused with 503. ``BEGIN IMMEDIATE`` takes the write lock first, and
the checkpoint waits for the commit. (Failed with the deferred ``BEGIN``: "database is
locked", 3 runs of 3.)"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sdex.sqlwriter import Writer


def _write_lock_held(path: Path) -> bool:
    probe = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def test_a_job_that_reads_first_survives_a_blocking_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")  # (as the store's writer)
    db.execute("CREATE TABLE t(x INTEGER)")
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    writer = Writer(db, 0.0, 16)
    checkpointer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    checkpointer.execute("PRAGMA busy_timeout=5000")
    read = threading.Event()
    answer: list[object] = []

    def restart() -> None:
        read.wait(10)
        answer.append(checkpointer.execute("PRAGMA wal_checkpoint(RESTART)").fetchone())

    def job(c: sqlite3.Connection) -> int:
        n = int(c.execute("SELECT count(*) FROM t").fetchone()[0])
        read.set()
        deadline = time.monotonic() + 10
        while not _write_lock_held(path):  # the checkpoint holds the write lock, waiting for us
            assert time.monotonic() < deadline, "the checkpoint never took the write lock"
        c.execute("DELETE FROM t WHERE x = 1")
        return n

    ck = threading.Thread(target=restart)
    ck.start()
    try:
        assert writer.submit(job).result(timeout=20) == 100
    finally:
        ck.join(20)
        writer.close()
        checkpointer.close()
    assert answer and answer[0] is not None
