"""users89: a damaged order row's mark (``damaged_orders``, users86: every later start names
the row) was lost when the store closed before its queued write. A read on the writer
thread (a page of a walk, ``orders_after``) that meets the row queues the mark from its own
job; in the store's last group (the node stopping) that queue was refused, "the store is
closed", and the next start did not name the row till a read met it again. The writer now
takes its own jobs' writes while it closes and commits them before it stops. A real SQLite
store, its real writer thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from sdex.store import Store
from tests.test_store import DOMAIN, IDENTITY, _order


async def test_a_mark_queued_by_the_stores_last_read_is_committed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    s = _order(1)
    store.add_order(s, 1, "open", "api")
    damage = "UPDATE orders SET filled='-5' WHERE hash=?"  # (users86's damage)
    store._call(lambda d: d.execute(damage, (s.hash_hex,)))
    held, go = threading.Event(), threading.Event()

    def hold(_db: sqlite3.Connection) -> None:
        held.set()
        go.wait(60)

    store._writer.submit(hold)  # the writer held, so the read and the stop share a group
    assert held.wait(60)
    read = asyncio.ensure_future(store.orders_after(["open"], None, 0, 10))
    for _ in range(100):  # (its job queued at its first step)
        await asyncio.sleep(0)
    closer = threading.Thread(target=store.close)
    closer.start()
    end = time.monotonic() + 60
    while not store._writer._closed and time.monotonic() < end:
        time.sleep(0.01)
    assert store._writer._closed
    go.set()
    closer.join(60)
    assert not closer.is_alive()
    orders, _after = await read
    assert orders == []  # (the row met damaged: left out)
    assert s.hash_hex in store.unparseable_rows
    with sqlite3.connect(db) as other:
        marked = other.execute("SELECT hash FROM damaged_orders").fetchall()
    assert marked == [(s.hash_hex,)]
