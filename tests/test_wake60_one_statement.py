"""wake60: a group of order rows only, up to ``ROWS_A_STATEMENT``, is one ``INSERT`` run
alone (its own transaction), not ``BEGIN IMMEDIATE``, ``INSERT``, ``COMMIT``: each statement
the writer runs gives up the GIL and waits to take it back. The same rows, the same refusals,
and committed before anyone is told (a process killed right after is missing none)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from sdex.sqlwriter import StoreError, Writer
from tests.test_writer27_group import row, schema

ROOT = Path(__file__).resolve().parents[1]


def writer(path: Path) -> tuple[Writer, list[str]]:
    db = schema(sqlite3.connect(path, isolation_level=None, check_same_thread=False))
    db.execute("PRAGMA journal_mode=WAL")
    traced: list[str] = []
    w = Writer(db, group_window=0.0, max_group=1024)
    db.set_trace_callback(traced.append)  # (called on the writer's thread, each statement)
    return w, traced


async def test_a_group_of_rows_is_one_statement_and_committed_when_told(tmp_path: Path) -> None:
    w, traced = writer(tmp_path / "w.db")
    try:
        loop = asyncio.get_running_loop()
        futs: list[asyncio.Future[None]] = [loop.create_future() for _ in range(10)]
        for i, fut in enumerate(futs):  # one loop turn: one hand-over, one group
            w.insert_async(row(i, i + 1), fut)
        await asyncio.wait_for(asyncio.gather(*futs), 30)
        assert w.commits == 1
        # one statement (traced again for each trigger it fires); main: BEGIN, INSERT, COMMIT
        assert {sql.split(" (")[0] for sql in traced} == {"INSERT OR IGNORE INTO orders"}
        with sqlite3.connect(tmp_path / "w.db") as other:  # committed: another connection sees it
            assert other.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 10
    finally:
        w.close()


async def test_a_refused_row_in_a_one_statement_group_fails_alone(tmp_path: Path) -> None:
    w, traced = writer(tmp_path / "w.db")
    try:
        loop = asyncio.get_running_loop()
        futs: list[asyncio.Future[None]] = [loop.create_future() for _ in range(8)]
        for i, fut in enumerate(futs):
            r = row(i, i + 1)
            if i == 5:
                r = (r[0], i + 1, object(), *r[3:])  # no column takes an object(): refused
            w.insert_async(r, fut)
        done = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 30)
        assert [i for i, d in enumerate(done) if isinstance(d, BaseException)] == [5]
        assert isinstance(done[5], StoreError)
        assert w.commits == 1 and traced[-1] == "COMMIT"  # the rows one by one, one transaction
        seqs = w.submit(lambda c: c.execute("SELECT seq FROM orders ORDER BY seq").fetchall())
        assert [s for (s,) in seqs.result(10)] == [1, 2, 3, 4, 5, 7, 8]
        assert not w.db.in_transaction  # (committed before the futures were resolved)
    finally:
        w.close()


CRASH = """
import asyncio, os, sqlite3, sys
from sdex.sqlwriter import Writer
from tests.test_writer27_group import row, schema

async def main() -> None:
    db = schema(sqlite3.connect(sys.argv[1], isolation_level=None, check_same_thread=False))
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    w = Writer(db, group_window=0.002, max_group=1024)
    loop = asyncio.get_running_loop()
    told = 0
    for turn in range(20):
        futs = [loop.create_future() for _ in range(turn % 7 + 1)]
        for fut in futs:
            w.insert_async(row(told, told + 1), fut)
            told += 1
        await asyncio.gather(*futs)
    print(told, flush=True)
    os._exit(0)  # no close: what was told committed must be in the file

asyncio.run(main())
"""


def test_rows_told_committed_survive_a_process_killed_right_after(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    out = subprocess.run(
        [sys.executable, "-c", CRASH, str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    told = int(out.stdout.split()[-1])
    with sqlite3.connect(path) as db:
        seqs = [s for (s,) in db.execute("SELECT seq FROM orders ORDER BY seq")]
    assert seqs == list(range(1, told + 1))
