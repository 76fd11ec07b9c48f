"""A store that refuses for long does not flood the log (review71, of chaos69's
``HeldEviction.store_refused``): every second the node writes again the rows the store
refused, and each was refused again: a log line a row (``Writer._commit``) and a job and a
line a row for its (status, filled, reason), 2 x 4,096 lines a second for as long as the
lock or a full disk lasted. Now one line a refused group and one update job for them all."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_chaos69_refused_row import write_locked
from tests.test_hashes67_listing import hold

HELD = 200
CYCLES = 3


async def test_rows_refused_again_and_again_log_a_line_a_try_not_a_row(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real node and SQLite store holding 200 open orders whose rows are queued while
    another connection holds the write lock: refused, written again each second, refused
    again, 3 times. The store's errors logged meanwhile are far fewer than the rows (before:
    two a row a try); once the lock goes every row is stored."""
    db = tmp_path / "n.db"
    async with running_node(node_config(chain, db)) as (node, _):
        hold(node, chain, HELD)
        recs = list(node.registry.records.values())
        assert len(recs) == HELD
        caplog.set_level(logging.WARNING)
        async with write_locked(node, db, busy=0.1):
            for rec in recs:
                node.store.add_order_async(rec.signed, rec.seq, rec.status, "test", waited=False)

            async def tried() -> bool:
                again = [r for r in caplog.records if "the store refused: written" in r.message]
                return len(again) >= CYCLES

            await wait_for(tried, 60)
            errors = [r for r in caplog.records if "could not be stored" in r.getMessage()]
        assert len(errors) < CYCLES * HELD // 4, len(errors)  # (before: >= 2 x 200 a try)

        hashes = [r.signed.hash_hex for r in recs]  # (made up: read as rows, not orders)
        sql = f"SELECT COUNT(*) FROM orders WHERE hash IN ({','.join('?' * HELD)})"

        async def all_stored() -> bool:
            with contextlib.closing(sqlite3.connect(db)) as reader:
                return bool(reader.execute(sql, hashes).fetchone()[0] == HELD)

        await wait_for(all_stored, 30)
