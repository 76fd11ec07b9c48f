"""Hand-overs to the store's writer thread from other threads (``submit``, some urgent) and
from the event loop (``submit_async``) at once: none is left asleep, every job commits, each
producer's jobs in its order."""

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
