"""The store's writer thread, busy and quiet: no job is lost, a job after a quiet spell is
still run, and close() takes what is queued and returns."""

from __future__ import annotations

import logging
import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from sdex import sqlwriter
from sdex.order import Domain
from sdex.sqlwriter import Writer
from sdex.store import ChainIdentity, Store

DOMAIN = Domain(31337, "0x" + "ab" * 20)
IDENTITY = ChainIdentity(31337, "0x" + "ab" * 20, "0x" + "cd" * 32)


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


def test_a_hung_writer_does_not_hang_the_stores_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer stuck in a job (a stalled disk) past ``CLOSE_WAIT``: ``Store.close`` logs it
    and returns, the node's shutdown goes on."""
    monkeypatch.setattr(sqlwriter, "CLOSE_WAIT", 0.3)
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    gate = threading.Event()
    stuck = store._writer.submit(lambda c: gate.wait(30))
    closer = threading.Thread(target=store.close, daemon=True)
    try:
        with caplog.at_level(logging.ERROR, logger="sdex.store"):
            closer.start()
            closer.join(10)  # (bounded: without the bound, close waits for the writer)
            assert not closer.is_alive()
        assert "did not stop within 0.3s" in caplog.text
    finally:
        gate.set()
        stuck.result(timeout=10)
        closer.join(10)
