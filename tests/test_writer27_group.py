"""writer27: fewer statements and sleeps a commit, the same outcome. A group of order rows
only is one multi-row ``INSERT`` a chunk with no savepoint (the same table as one insert per
row, a refused row fails alone); the group window follows hand-overs, not jobs; the WAL's
interval checkpoint waits for a quiet interval while the writer commits."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex import sqlwriter
from sdex.sqlwriter import (
    StoreError,
    Writer,
    _insert_alone,
    _insert_group,
    _insert_many,
    _insert_rows,
    _inserter,
    _run_job,
    serialised,
)
from sdex.storecheckpoint import Checkpointer
from sdex.storeschema import INSERT_ORDER, open_order_counts, open_orders_table, open_schema


def until(cond: Callable[[], bool], bound: float = 20.0) -> None:
    end = time.monotonic() + bound
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.001)


def schema(db: sqlite3.Connection) -> sqlite3.Connection:
    open_schema(db)
    open_orders_table(db)
    open_order_counts(db)
    return db


def row(h: int, seq: int, status: str = "open", reason: str = "") -> tuple[Any, ...]:
    order = {"salt": str(h), "seq": seq}
    a, b, z = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "0" * 40  # (z: the taker)
    return (
        f"0x{h:064x}",
        seq,
        f"0x{h % 3:040x}",
        a,
        b,
        order,
        status,
        "peer:x",
        "gtc",
        seq,
        seq,
        z,
    )


def tables(db: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
    return (
        db.execute("SELECT * FROM orders ORDER BY seq").fetchall(),
        db.execute("SELECT * FROM order_counts ORDER BY status").fetchall(),
    )


rows_st = st.lists(
    st.tuples(st.integers(0, 12), st.integers(1, 30), st.sampled_from(["open", "removed"])),
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(before=rows_st, group=rows_st)
def test_a_multi_row_insert_leaves_what_one_insert_a_row_leaves(
    before: list[tuple[int, int, str]], group: list[tuple[int, int, str]]
) -> None:
    # stored rows first (some removed as unparseable: a new copy takes their place), then a
    # group with repeated hashes and seqs (a seq taken: ignored; a copy that takes an
    # unparseable row's place with a taken seq: refused), both ways: the same rows refused
    old = [
        serialised(row(h, s, st_, "unparseable" if st_ == "removed" else ""))
        for h, s, st_ in before
    ]
    new = [serialised(row(h, s + 5, st_)) for h, s, st_ in group]
    ways = []

    def one_by_one(db: sqlite3.Connection, rows: list[Any]) -> list[tuple[bool, Any]]:
        return [_run_job(db, _inserter(r)) for r in rows]  # (the reference: a row alone)

    # the savepoints' way (rows among other jobs), the group's, the reference, and (wake60)
    # a group of 32 rows at most as one statement in its own transaction
    for insert in (_insert_rows, _insert_group, one_by_one, _insert_alone):
        alone = insert is _insert_alone
        if alone and len(new) > sqlwriter.ROWS_A_STATEMENT:
            continue
        db = schema(sqlite3.connect(":memory:", isolation_level=None))
        for r in old:
            db.execute(INSERT_ORDER, r)
        db.execute("UPDATE orders SET reason='unparseable' WHERE status='removed'")
        if not alone:
            db.execute("BEGIN IMMEDIATE")
        oks = [ok for ok, _ in insert(db, list(new))] if new or not alone else []
        if not alone:
            db.execute("COMMIT")
        assert not db.in_transaction
        ways.append((oks, tables(db)))
        db.close()
    assert all(way == ways[2] for way in ways)


async def test_a_refused_row_in_a_group_of_rows_fails_alone(tmp_path: Path) -> None:
    db = schema(sqlite3.connect(tmp_path / "w.db", isolation_level=None, check_same_thread=False))
    w = Writer(db, group_window=0.0, max_group=1024)
    loop = asyncio.get_running_loop()
    futs: list[asyncio.Future[None]] = []
    n = 2 * sqlwriter.ROWS_A_STATEMENT + 5  # (three statements: the refusal is in the second)
    for i in range(n):
        fut: asyncio.Future[None] = loop.create_future()
        r = row(i, i + 1)
        if i == sqlwriter.ROWS_A_STATEMENT + 3:
            r = (r[0], i + 1, object(), *r[3:])  # no column takes an object(): refused
        w.insert_async(r, fut)
        futs.append(fut)
    done = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 30)
    failed = [i for i, d in enumerate(done) if isinstance(d, BaseException)]
    assert failed == [sqlwriter.ROWS_A_STATEMENT + 3]
    assert isinstance(done[failed[0]], StoreError)
    assert w.commits == 1  # one transaction (begun again after the refusal)
    seqs = [
        r[0] for r in w.submit(lambda c: c.execute("SELECT seq FROM orders").fetchall()).result(10)
    ]
    assert seqs == [i + 1 for i in range(n) if i != failed[0]]
    w.close()


def test_a_hand_over_of_many_jobs_is_not_a_busy_writer(tmp_path: Path) -> None:
    # one hand-over (a loop turn's rows, a lazy batch) holds many jobs; the next job, alone
    # in the queue, does not wait out the group window (60 s here: on main it did)
    db = sqlite3.connect(tmp_path / "w.db", isolation_level=None, check_same_thread=False)
    db.execute("CREATE TABLE t (x INTEGER)")
    w = Writer(db, group_window=60.0, max_group=1024)
    try:

        async def one_turn() -> None:
            futs = [
                w.submit_async(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,)))
                for i in range(20)
            ]
            await asyncio.wait_for(asyncio.gather(*futs), 30)

        asyncio.run(one_turn())
        assert w.largest == 20  # one group, from one hand-over
        alone = w.submit(lambda c: c.execute("INSERT INTO t VALUES (99)"))
        alone.result(timeout=20)
        # several hand-overs in one group: the writer is busy, the window is waited out
        # (an urgent job ends it: that path is unchanged)
        hold = threading.Event()
        blocker = w.submit(lambda c: hold.wait(30))
        more = [w.submit(lambda c: c.execute("INSERT INTO t VALUES (1)")) for _ in range(2)]
        hold.set()
        for f in [blocker, *more]:
            f.result(timeout=30)
        late: Future[Any] = w.submit(lambda c: c.execute("INSERT INTO t VALUES (2)"))
        assert not late.done()  # the window is being waited out
        w.submit(lambda c: None, urgent=True).result(timeout=30)
        late.result(timeout=0)
    finally:
        w.close()


def test_the_interval_checkpoints_only_after_a_quiet_interval(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (x INTEGER)")
    c = Checkpointer(str(path), target_frames=10**9, interval=0.3)
    c.every = 10**9  # (no checkpoint by the commits' count: the interval alone)
    try:
        end = time.monotonic() + 1.5  # five intervals of steady commits
        i = 0
        while time.monotonic() < end:
            db.execute("INSERT INTO t VALUES (?)", (i,))
            c.committed()
            i += 1
            time.sleep(0.005)
        # (main: one checkpoint an interval, 4-5 here; a stall of the whole 0.3 s on a loaded
        # machine may let one through)
        assert c.passive <= 1
        until(lambda: c.passive >= 1)  # quiet now: what was committed is checkpointed
        frames = c.last
        assert frames is not None and frames[1] == frames[2]  # all of it
    finally:
        c.close()
        db.close()


@pytest.mark.parametrize("n", [1, 2, sqlwriter.ROWS_A_STATEMENT])
def test_the_multi_row_statement_has_n_rows_of_parameters(n: int) -> None:
    sql = _insert_many(n)
    assert sql.count("?") == 12 * n
    assert sql.endswith(INSERT_ORDER.partition("(?,?,?,?,?,?,?,?,?,?,?,?)")[2])


async def test_a_refused_row_among_other_jobs_fails_alone(tmp_path: Path) -> None:
    """Rows in a group with another job (``_insert_rows``: multi-row statements in a
    savepoint): a refused row fails alone, the other rows and the job stand."""
    db = schema(sqlite3.connect(tmp_path / "w.db", isolation_level=None, check_same_thread=False))
    w = Writer(db, group_window=0.0, max_group=1024)
    loop = asyncio.get_running_loop()
    gate, held = threading.Event(), threading.Event()

    def hold(c: sqlite3.Connection) -> None:
        held.set()
        gate.wait(30)

    first = w.submit(hold)  # the writer busy: what follows is queued, then one group
    assert await asyncio.to_thread(held.wait, 30)
    futs: list[asyncio.Future[None]] = []
    n = 2 * sqlwriter.ROWS_A_STATEMENT + 5
    bad = sqlwriter.ROWS_A_STATEMENT + 3
    job = w.submit(lambda c: c.execute("CREATE TABLE marker (x)").rowcount)
    for i in range(n):
        fut: asyncio.Future[None] = loop.create_future()
        r = row(i, i + 1)
        if i == bad:
            r = (r[0], i + 1, object(), *r[3:])  # no column takes an object(): refused
        w.insert_async(r, fut)
        futs.append(fut)
    await asyncio.sleep(0)  # (one loop turn: the rows handed over)
    gate.set()
    first.result(10)
    done = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 30)
    assert [i for i, d in enumerate(done) if isinstance(d, BaseException)] == [bad]
    job.result(10)
    assert w.commits == 2  # (the job and the rows: one group)
    seqs = [
        r[0] for r in w.submit(lambda c: c.execute("SELECT seq FROM orders").fetchall()).result(10)
    ]
    assert seqs == [i + 1 for i in range(n) if i != bad]
    assert (
        w.submit(lambda c: c.execute("SELECT COUNT(*) FROM marker").fetchone()[0]).result(10) == 0
    )
    w.close()
