"""store97: the writer called ``Checkpointer.committed`` (the wake of the checkpoint thread,
after each commit) unguarded in ``Writer._commit``: whatever it raised ended the writer's
thread after the transaction had committed, before any of the group's jobs was answered (their
waiters waited for good, every later write too). Now it is guarded as ``gate`` is (store95,
review96b): logged once a kind, counted, and the group is answered.

A real SQLite store, its real checkpointer put out of order (as review96b's gate test does)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.test_wal24_checkpoint import answered_rows, checkpointer, count, opened_store


def test_a_failing_commit_wake_answers_the_commit_and_the_writer_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with opened_store(tmp_path / "s.db") as store:
        writer, cp = store._writer, checkpointer(store)
        with caplog.at_level(logging.ERROR, logger="sdex.store"):
            nudged = cp._nudged
            cp._nudged = None  # type: ignore[assignment]  # (a TypeError at each wake)
            answered_rows(store, 1)  # (before: never answered, the thread gone)
            answered_rows(store, 21)
            cp._nudged = nudged
            answered_rows(store, 41)
        failed = [r for r in caplog.records if "checkpoint wake failed" in r.getMessage()]
        assert len(failed) == 1, [r.getMessage() for r in caplog.records]  # (once a kind)
        assert writer.checkpoint_failures == 2
        assert writer._thread.is_alive()
    assert count(tmp_path / "s.db") == 60
