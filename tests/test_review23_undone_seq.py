"""``undone_fills`` rows of a database written by another hand with a hostile ``seq`` (the
largest 64-bit integer, or past a quarter of it): SQLite then picks random row ids for new
rows, and "the oldest forgotten first" would forget arbitrary ones and keep the hostile row
for ever as the newest. The next write numbers the rows afresh, in their order (review23;
the seventeenth session's gap b)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdex.node.fillmemory import UndoneFills
from sdex.store import Store
from tests.test_store import DOMAIN, IDENTITY
from tests.test_store_undone import _fill, _rows


@pytest.mark.parametrize("seq", [2**63 - 1, 2**62, -(2**63)], ids=["max", "2^62", "min"])
async def test_a_hostile_seq_leaves_the_newest_fills_kept_in_order(
    tmp_path: Path, seq: int
) -> None:
    path = tmp_path / "n.db"
    Store(path, IDENTITY, DOMAIN).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO undone_fills (seq, order_hash, tx_hash, maker_filled) VALUES (?,?,?,?)",
            (seq, "0x" + "77" * 32, "0x" + "88" * 32, "1"),
        )
    store = Store(path, IDENTITY, DOMAIN)
    try:
        undone = UndoneFills(kept=3)
        await undone.attach(store)
        for i in range(1, 7):
            w = undone.add([_fill(i, i, i)])
            assert w is not None
            await w
        assert [r[0] for r in _rows(path)] == ["0x" + bytes([i]).hex() * 32 for i in (4, 5, 6)]
        with sqlite3.connect(path) as db:
            (top,) = db.execute("SELECT max(seq) FROM undone_fills").fetchone()
        assert top < 2**62
    finally:
        store.close()
