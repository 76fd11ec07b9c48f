"""review98b: the read back of spilled rechecks (``Rechecks._refill``, store97).

- An order taken off (judged) while a read back was in flight, its row's delete committed
  after the read and before the read's callback: the read returned its row, and
  ``_refilled`` kept out only those whose delete was not issued yet (``_dropped``): it came
  back into memory with no row, judged again and handed to ``refilled`` (the node's
  ``_remined_stored``: its fills mined again, their undone rows not forgotten yet, credited a
  second time). Now the orders taken off while a read is in flight, and the deletes in
  flight, are kept out.
- A read back the store refused was tried again at every flush: now backed off
  (``ReadBackoff``, the flushes its chances).

A real SQLite store (``sdex.store.Store``), its real writer thread; the writer held inside a
job of its own (a ``threading.Event``) so that the read runs before the delete, in order."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

from sdex.node.rechecks import Rechecks
from sdex.store import Store
from tests.test_store97_recheck_bound import committed
from tests.test_wal24_checkpoint import DOMAIN, IDENTITY

KEPT = 4


async def settled(r: Rechecks) -> None:
    """The read back in flight answered (its callback run)."""
    for _ in range(600):
        if r._refilling is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the read back never came back")


async def test_an_order_judged_while_a_read_back_is_in_flight_stays_off(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        back: list[bytes] = []
        r = Rechecks(KEPT)
        r.attach(store, back.extend)
        due = [os.urandom(32) for _ in range(5)]
        for h in due:
            r.add(h)
            await committed(r)
        assert len(r) == KEPT and r.spilled == 1
        held, judged = list(r), due[-1]
        for h in held[:-1]:  # (three judged: one held, fewer than half)
            r.discard(h)
        await committed(r)
        gate, entered = threading.Event(), threading.Event()

        def hold(db: sqlite3.Connection) -> None:
            entered.set()
            gate.wait(30)

        blocker = store._writer.submit(hold)
        assert await asyncio.to_thread(entered.wait, 30)
        r.flush()  # (the read back begins: queued behind the held job)
        assert r._refilling is not None
        await asyncio.sleep(0.2)  # (the read's task submits it)
        assert judged in r
        r.discard(judged)  # (judged meanwhile: its delete queued after the read)
        deleted = r.writes()
        await asyncio.sleep(0.2)  # (handed over behind the read)
        gate.set()
        await asyncio.to_thread(blocker.result, 30)
        await asyncio.gather(*deleted)
        await settled(r)
        assert judged not in await store.rechecks(), "its row not deleted"
        assert judged not in r, "judged, back with no row"  # (before: back)
        assert judged not in back
        assert back == due[:1]  # (the spilled one, read back)
    finally:
        store.close()


async def test_a_refused_read_back_is_backed_off(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        r = Rechecks(KEPT)
        r.attach(store)
        due = [os.urandom(32) for _ in range(8)]
        for h in due:
            r.add(h)
            await committed(r)
        for h in list(r):
            r.discard(h)
        await committed(r)
        reads: list[str] = []

        def refusing(action: int, arg1: str | None, *_: object) -> int:
            if action == sqlite3.SQLITE_READ and arg1 == "rechecks":
                reads.append(arg1)
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        writer = store._writer
        writer.submit(lambda db: db.set_authorizer(refusing)).result(30)
        tries = 0
        for _ in range(20):  # (twenty flushes)
            r.flush()
            if r._refilling is not None:
                tries += 1
            await settled(r)
        writer.submit(lambda db: db.set_authorizer(None)).result(30)
        assert reads, "never refused"
        assert tries <= 5, tries  # (1, 1 skipped, 1, 3 skipped, 1, 7 skipped, 1; before: 20)
        assert r.spilled == 4
    finally:
        store.close()
