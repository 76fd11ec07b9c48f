"""review97e: store97 bounded the orders due a recheck in memory (``Rechecks.kept``): past it
the oldest whose rows are committed leave memory (``spilled``), their rows read back as the
list drains. Two ways a spilled one's row was lost for good:

- a cancel in a block closing a spilled order (``hold``) then the watcher's head saved past
  that block (``release``): the order was not in memory, so its row was deleted as a mere
  hold's, though it was due a recheck (before store97 it was in memory and its row stayed);
- rows that are not an order hash (a damaged or edited file) among the oldest: a read of
  ``limit`` rows returned fewer hashes, taken for the whole table (``spilled`` set to 0,
  or at a start never set), so the spilled rows past them were never read back.

A real SQLite store (``sdex.store.Store``), its real writer thread."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from sdex.node.rechecks import Rechecks
from sdex.store import Store
from tests.test_store97_recheck_bound import committed
from tests.test_wal24_checkpoint import DOMAIN, IDENTITY

KEPT = 4


async def drained(r: Rechecks) -> set[bytes]:
    """Every order judged as it comes (each discarded, the list flushed) till none is held
    or spilled: those seen."""
    seen: set[bytes] = set()
    for _ in range(40):
        held = list(r)
        seen |= set(held)
        for h in held:
            r.discard(h)
        r.flush()
        await committed(r)
        for _ in range(400):  # (the read back, on the writer thread)
            if r._refilling is None:
                break
            await asyncio.sleep(0.05)
        if not r.spilled and not len(r):
            break
    return seen


async def test_a_spilled_order_held_and_released_stays_due(tmp_path: Path) -> None:
    """Ten orders due, four held, six spilled; a block's cancel closes a spilled one (held
    at block 7) and the head is saved at 7 (released): its row stays, it is read back and
    judged (before: its row deleted, never judged again)."""
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        r = Rechecks(KEPT)
        r.attach(store)
        due = [os.urandom(32) for _ in range(10)]
        for h in due:
            r.add(h)
            await committed(r)
        assert len(r) == KEPT and r.spilled == 6
        spilled = due[0]
        assert spilled not in r
        r.hold([spilled], 7)
        await committed(r)
        r.release(7)
        r.flush()
        await committed(r)
        assert spilled in set(await store.rechecks()), "a spilled order's row deleted"
        assert await drained(r) == set(due)
        assert await store.rechecks() == []
    finally:
        store.close()


async def test_rows_not_a_hash_do_not_hide_the_spilled_ones(tmp_path: Path) -> None:
    """Three rows that are not an order hash, the oldest in the table, then twelve orders
    due (four held, eight spilled): each is read back and judged as the list drains (before:
    the first read back, short of its limit by the three, taken for the whole table)."""
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    store.close()
    raw = sqlite3.connect(db)
    with raw:
        raw.executemany(
            "INSERT INTO rechecks (order_hash) VALUES (?)",
            [("junk",), ("0x" + "zz" * 32,), ("0X",)],
        )
    raw.close()
    store = Store(db, IDENTITY, DOMAIN)
    try:
        r = Rechecks(KEPT)
        r.attach(store)
        due = [os.urandom(32) for _ in range(12)]
        for h in due:
            r.add(h)
            await committed(r)
        assert r.spilled == 8
        assert await drained(r) == set(due)
    finally:
        store.close()


async def test_a_start_behind_rows_not_a_hash_knows_more_wait(tmp_path: Path) -> None:
    """A start reads ``kept`` rows back; three of the oldest are not an order hash: the
    node still knows more wait (``spilled``) and reads them as the list drains (before:
    fewer than ``kept`` read, none known to wait, the rest left unread for good)."""
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    store.close()
    raw = sqlite3.connect(db)
    with raw:
        raw.executemany("INSERT INTO rechecks (order_hash) VALUES (?)", [("junk",), ("x",), ("",)])
    raw.close()
    store = Store(db, IDENTITY, DOMAIN)
    try:
        w = Rechecks(1000)
        w.attach(store)
        due = [os.urandom(32) for _ in range(9)]
        w.add_all(due)
        await committed(w)
        r = Rechecks(KEPT)  # (a kill: started again)
        r.attach(store)
        r.restore(await store.rechecks(KEPT))
        assert await drained(r) == set(due)
    finally:
        store.close()
