"""review96b: the writer's guard round ``Checkpointer.gate`` (store95, ``Writer._gate``) logged
the first failure and never another for the process's life: a later failure of another kind
(another defect in the checkpointer's pacing, the first one gone) was never seen, nor counted.
Now each kind is logged once (``GATE_SAID`` kinds at most) and every failure counted
(``Writer.gate_failures``).

A real SQLite store, its real checkpointer put out of order twice, two ways (as store95's
test: a target of 0 frames divides by it; then a WAL start that is no number)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.test_wal24_checkpoint import answered_rows, checkpointer, count, opened_store


def test_a_gate_failing_another_way_is_logged_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with opened_store(tmp_path / "s.db") as store:
        writer, cp = store._writer, checkpointer(store)
        with caplog.at_level(logging.ERROR, logger="sdex.store"):
            cp.target_frames = 0  # (ZeroDivisionError at each gate)
            answered_rows(store, 1)
            answered_rows(store, 21)
            cp.target_frames, origin = 1000, cp._origin
            cp._origin = None  # type: ignore[assignment]  # (a TypeError at each gate)
            answered_rows(store, 41)
            answered_rows(store, 61)
            cp._origin = origin
        failed = [r for r in caplog.records if "gate failed" in r.getMessage()]
        kinds = [r.exc_info[0].__name__ for r in failed if r.exc_info and r.exc_info[0]]
        assert kinds == ["ZeroDivisionError", "TypeError"], [r.getMessage() for r in failed]
        assert writer.gate_failures == 4  # (before: one line, the TypeError unseen)
    assert count(tmp_path / "s.db") == 80
