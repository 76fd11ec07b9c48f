"""store97: the orders due a recheck (``sdex.node.rechecks.Rechecks``) had no bound of their
own: every order a block could not read back while the store refused (store96's
``_read_later``), every reorg's closed order in flight, stayed in memory until judged, and a
start read back at most ``RECHECKS_READ`` rows, the rest silently left in the table. Now at
most ``kept`` are held: past it the oldest whose rows are committed leave memory (their rows
stay), read back from the store as the list drains below half; none whose row is not
committed leaves (nothing due is lost, a kill keeps every row).

A real SQLite store (``sdex.store.Store``), its real writer thread."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sdex.node.rechecks import Rechecks
from sdex.store import Store
from tests.test_wal24_checkpoint import DOMAIN, IDENTITY

KEPT = 10


async def committed(r: Rechecks) -> None:
    await asyncio.gather(*r.writes())


async def test_the_recheck_list_is_bounded_and_nothing_due_is_lost(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        back: list[bytes] = []
        r = Rechecks()
        r.attach(store)
        r.kept = KEPT
        due = [os.urandom(32) for _ in range(31)]
        for k in range(0, 30, 5):
            r.add_all(due[k : k + 5])
            assert len(r) <= KEPT + 5  # (those not committed yet stay: at most a batch)
            await committed(r)
        r.add(due[30])
        assert len(r) == KEPT  # (before: 31, no bound)
        assert r.spilled == 21
        assert set(await store.rechecks()) == set(due)  # (every row kept)

        # a kill: a start reads back ``kept`` rows at most, knows more wait
        s = Rechecks()
        s.attach(store)
        s.refilled = back.extend  # (the node's _remined_stored)
        s.kept = KEPT
        s.restore(await store.rechecks(KEPT))
        assert len(s) == KEPT and s.spilled
        assert set(s) == set(due[:KEPT])  # (the oldest first: the first two writes)

        # judged as they come (the drain): each spilled one read back, none lost
        seen: set[bytes] = set()
        for _ in range(20):
            held = list(s)
            seen |= set(held)
            for h in held:
                s.discard(h)
            s.flush()
            await committed(s)
            for _ in range(200):  # (the read back, on the writer thread)
                if s._refilling is None:
                    break
                await asyncio.sleep(0.05)
            if not s.spilled and not len(s):
                break
        assert seen == set(due)
        assert sorted(back) == sorted(due[KEPT:])  # (each read back once: remined's look)
        assert await store.rechecks() == []  # (every row deleted once judged)
        assert not s.spilled
    finally:
        store.close()
