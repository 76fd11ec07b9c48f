"""The store's writer thread, busy and quiet: no job is lost, a job after a quiet spell is
still run, and close() takes what is queued and returns."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path

from sdex.sqlwriter import Writer


def test_jobs_queued_while_the_writer_is_busy_or_quiet_all_commit(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "w.db", isolation_level=None, check_same_thread=False)
    db.execute("CREATE TABLE t (x INTEGER)")
    w = Writer(db, group_window=0.005, max_group=1024)
    gate = threading.Event()

    def blocked(c: sqlite3.Connection) -> None:
        assert gate.wait(10)

    first = w.submit(blocked)
    futures: list[Future[None]] = []
    for i in range(50):  # queued behind the blocked job: the next group has them all (busy)
        futures.append(w.submit(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,))))
    gate.set()
    first.result(timeout=10)
    for f in futures:
        f.result(timeout=10)
    assert w.largest > 1  # a group of many: the writer was busy after it
    for round_ in range(3):  # one job at a time: each a quiet window, then woken again
        w.submit(lambda c, r=round_: c.execute("INSERT INTO t VALUES (?)", (100 + r,))).result(
            timeout=10
        )
    more = [
        w.submit(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (200 + i,)))
        for i in range(20)
    ]
    closer = threading.Thread(target=w.close)
    closer.start()
    closer.join(10)
    assert not closer.is_alive()  # close() took what was queued and returned
    for f in more:
        f.result(timeout=0)
    with sqlite3.connect(tmp_path / "w.db") as other:
        assert other.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 50 + 3 + 20
