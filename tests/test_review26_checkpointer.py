"""review26: the store's checkpointer thread outlives an exception that is not sqlite3's (it
died silently, and the WAL of a writer without automatic checkpoints grew without bound)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sdex.store import Store
from tests.test_wal24_checkpoint import DOMAIN, IDENTITY, checkpointer, commit_rows


def until(cond: Callable[[], bool], bound: float = 10.0) -> bool:
    end = time.monotonic() + bound
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def test_a_checkpoint_raising_a_non_sqlite_error_is_logged_and_the_thread_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        cp = checkpointer(store)
        real = cp.checkpoint
        raised: list[int] = []

        def once_broken() -> int:  # (a fault in the thread's own code, once)
            if not raised:
                raised.append(1)
                raise RuntimeError("not sqlite3's")
            return real()

        cp.checkpoint = once_broken  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR, logger="sdex.store"):
            commit_rows(store, 1, 5)
            cp.request()
            assert until(lambda: bool(raised)), "the checkpointer never ran"
            passive = cp.passive
            commit_rows(store, 6, 5)
            cp.request()
            assert until(lambda: cp.passive > passive), "the checkpointer thread died"
        assert cp._thread.is_alive()
        assert cp.failures >= 1
        assert any("not sqlite3's" in r.getMessage() or (r.exc_info and "not sqlite3's" in
                   str(r.exc_info[1])) for r in caplog.records)  # fmt: skip
    finally:
        store.close()
