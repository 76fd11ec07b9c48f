"""review98b: ``Writer._guarded`` (the checkpointer's gate and wake, store95/store97) read
``call.__name__`` inside its ``except``: a callable without one (``functools.partial``) raised
``AttributeError`` out of it, ending the writer's thread (every write after it waiting for
good). Now read with a fallback. A real SQLite store, its real writer thread."""

from __future__ import annotations

import functools
from pathlib import Path

from sdex.store import Store
from tests.test_wal24_checkpoint import DOMAIN, IDENTITY


def _refuse(why: str) -> None:
    raise RuntimeError(why)


def test_a_gate_without_a_name_that_fails_leaves_the_writer_going(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        writer, cp = store._writer, store._writer.checkpointer
        assert cp is not None
        cp.gate = functools.partial(_refuse, "held")  # type: ignore[method-assign]
        for _ in range(2):
            job = writer.submit(lambda db: db.execute("SELECT 1").fetchone())
            assert job.result(timeout=20) == (1,)  # (before: never answered, the thread gone)
        assert writer.gate_failures == 2
        assert writer._thread.is_alive()
    finally:
        store.close()
