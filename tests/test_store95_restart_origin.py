"""store95: ``Checkpointer._round`` took the WAL's start (``_origin``, the commits the writer's
gate counts from: ``WAIT_FRAMES``) to be the last round's end whenever the WAL had started over
since that round, also in a round whose own ``RESTART`` had just copied every frame and set it
to now: the commits that RESTART copied were counted again, and the writer waited at its gate
for a checkpoint that many commits early. A real SQLite store and its checkpointer."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

import sdex.storecheckpoint as sc
from sdex.store import Store
from tests.test_wal24_checkpoint import (
    DOMAIN,
    IDENTITY,
    checkpointer,
    commit_rows,
    count,
    until,
    wal_salt,
)


def test_a_restart_round_after_the_wal_started_over_keeps_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        cp = checkpointer(store)
        cp.interval = 3600.0  # (rounds when asked only)
        cp.restart_frames = 5  # (every round's checkpoint a RESTART after its passive one)

        def round_done() -> None:
            cp.request()
            until(lambda: cp.state == "idle" and cp._done == cp._commits)

        commit_rows(store, 1, 20)
        round_done()  # (every frame copied: the next commit starts the WAL over)
        blocking, first = cp.blocking, wal_salt(path)
        for seq in (21, 41, 61):  # three commits on the WAL started over
            commit_rows(store, seq, 20)
        assert wal_salt(path) != first
        round_done()  # (its RESTART copies them: the gate's count starts again)
        assert cp.blocking > blocking and cp.busy == 0
        # the gate waits past 3 commits since the WAL's start (WAIT_FRAMES, scaled)
        monkeypatch.setattr(sc, "WAIT_FRAMES", math.ceil(3 * cp.target_frames / cp.every))
        began = time.monotonic()
        commit_rows(store, 81, 20)
        assert cp.gate_waits == 0, (cp.gate_waits, time.monotonic() - began)  # (before: 1)
        assert cp.failures == 0
    finally:
        store.close()
    assert count(path) == 100
