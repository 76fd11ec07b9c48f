"""How the store's writer thread is woken: once per idle spell (a busy writer is not woken per
hand-over), and no hand-over is left asleep when threads and the event loop hand over at once
(every job commits, each producer's jobs in its order)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from sdex.sqlwriter import Writer


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("CREATE TABLE t (who INTEGER, n INTEGER)")
    return db


def until(cond: Callable[[], bool], bound: float = 10.0) -> None:
    end = time.monotonic() + bound
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.001)


def insert(i: int) -> Callable[[sqlite3.Connection], object]:
    return lambda c: c.execute("INSERT INTO t VALUES (0, ?)", (i,))


def counted(w: Writer) -> list[int]:
    wakes = [0]
    wake = w._wake

    def counting() -> object:
        wakes[0] += 1
        return wake()

    w._wake = counting
    return wakes


def test_a_busy_writer_is_not_woken_and_an_idle_one_once_per_spell(tmp_path: Path) -> None:
    w = Writer(connect(tmp_path / "w.db"), group_window=0.0, max_group=1024)
    try:
        until(lambda: w._idle)
        wakes = counted(w)
        gate = threading.Event()
        first = w.submit(lambda c: gate.wait(10))
        assert wakes[0] == 1
        until(lambda: not w._queue)  # the thread took it and is in the job, not asleep
        more = [w.submit(insert(i)) for i in range(50)]
        assert wakes[0] == 1  # 50 hand-overs to a busy thread: no system call
        gate.set()
        assert first.result(timeout=10) is True
        for f in more:
            f.result(timeout=10)
        for spell in range(3):
            until(lambda: w._idle)
            w.submit(lambda c: None).result(timeout=10)
            assert wakes[0] == 2 + spell
    finally:
        w.close()


def test_hand_overs_from_threads_and_the_loop_at_once_all_commit_in_order(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    w = Writer(connect(path), group_window=0.0005, max_group=64)
    per = 300

    def row(who: int, n: int) -> Callable[[sqlite3.Connection], object]:
        return lambda c: c.execute("INSERT INTO t VALUES (?, ?)", (who, n))

    def producer(who: int, out: list[Future[object]]) -> None:
        for n in range(per):
            out.append(w.submit(row(who, n), urgent=n % 7 == 0))

    async def on_loop() -> None:
        futs: list[asyncio.Future[object]] = []
        for n in range(per):
            futs.append(w.submit_async(row(0, n)))
            if n % 5 == 0:
                await asyncio.sleep(0)  # (one loop turn: a hand-over)
        await asyncio.wait_for(asyncio.gather(*futs), 30)

    outs: list[list[Future[object]]] = [[] for _ in range(3)]
    threads = [threading.Thread(target=producer, args=(i + 1, outs[i])) for i in range(3)]
    for t in threads:
        t.start()
    asyncio.run(on_loop())
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    for out in outs:
        for f in out:
            f.result(timeout=30)
    w.close()
    with sqlite3.connect(path) as db:
        for who in range(4):
            got = [n for (n,) in db.execute("SELECT n FROM t WHERE who = ? ORDER BY rowid", (who,))]
            assert got == list(range(per))
