"""http27's measurement of http25's ``hk`` lead, ``bench/http_modes.py --modes hash-key``:
the ``orders`` table without ``hash``'s unique index, with a column ``hk`` (the hash's first 8
bytes as a signed 64-bit integer) indexed, written by the store's writer with each row, and a
trigger that keeps each order once. The bench's figures mean something only if the candidate
keeps ``INSERT_ORDER``'s rules on the node's real store (an order stored once, an unusable row
replaced by the same order sent again, two hashes that share their first 8 bytes both stored,
the status counts exact), each lookup by ``hk`` and hash searches ``hk``'s index, and the
switch back gives the schema's table again."""

from __future__ import annotations

import sqlite3
from types import ModuleType

import pytest

from sdex import sqlwriter, storeschema
from tests.test_http25_hash_prefix import H1, H2, H3, counts, row, rows
from tests.test_http25_hash_prefix import db as db
from tests.test_http25_hash_prefix import modes as modes


def switch(modes: ModuleType, db: sqlite3.Connection, key: str) -> None:
    db.execute("BEGIN")
    modes.set_hash_key(db, key)
    modes.set_counts(db, True)
    db.execute("COMMIT")


def put(modes: ModuleType, db: sqlite3.Connection, r: tuple[object, ...]) -> None:
    """A row as the writer stores it in ``hash-key`` mode: ``hk_serialised`` and ``HK_INSERT``."""
    db.execute(modes.HK_INSERT, modes.hk_serialised(r))


@pytest.mark.parametrize(
    ("hash_hex", "key"),
    [
        ("0x" + "00" * 32, 0),
        ("0x" + "ff" * 32, -1),
        ("0x7fffffffffffffff" + "00" * 24, 2**63 - 1),
        ("0x8000000000000000" + "ff" * 24, -(2**63)),
        (H1, int.from_bytes(bytes.fromhex("ab" * 8), "big", signed=True)),
    ],
)
def test_hash_key_values(modes: ModuleType, hash_hex: str, key: int) -> None:
    assert modes.hash_key(hash_hex) == key


def test_the_candidate_keeps_insert_orders_rules(
    modes: ModuleType,
    db: sqlite3.Connection,
) -> None:
    db.execute(modes.INSERT_ORDER, row(H3, 1, "filled"))  # (stored before the switch)
    switch(modes, db, "hk")
    assert rows(db) == [(H3, 1, "filled")]  # (the rebuild copied it, with its key)
    assert db.execute("SELECT hk FROM orders").fetchone() == (modes.hash_key(H3),)
    put(modes, db, row(H1, 2))
    put(modes, db, row(H1, 3))  # the same order again: kept once, as it was
    put(modes, db, row(H2, 4))  # another sharing its first 8 bytes: its own row
    put(modes, db, row(H2, 5))
    assert rows(db) == [(H3, 1, "filled"), (H1, 2, "open"), (H2, 4, "open")]
    assert counts(db) == {"filled": 1, "open": 2}
    db.execute("UPDATE orders SET status='removed', reason='unparseable' WHERE hash=?", (H1,))
    put(modes, db, row(H1, 6))  # an unusable row: the order sent again takes its place
    assert rows(db) == [(H3, 1, "filled"), (H2, 4, "open"), (H1, 6, "open")]
    assert db.execute("SELECT reason FROM orders WHERE seq=6").fetchone() == ("",)
    assert counts(db) == {"filled": 1, "open": 2}
    plan = " ".join(
        str(r[3])
        for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM orders WHERE hk = ? AND hash = ?",
            (modes.hash_key(H1), H1),
        )
    )
    assert "USING INDEX orders_hk" in plan  # (an integer key: no ``+`` needed)
    switch(modes, db, "unique")  # and back: the schema's own table and unique index
    cols = [r[1] for r in db.execute("PRAGMA table_info(orders)")]
    assert "hk" not in cols
    db.execute(modes.INSERT_ORDER, row(H1, 7))  # (held already: ignored)
    assert rows(db) == [(H3, 1, "filled"), (H2, 4, "open"), (H1, 6, "open")]


def test_the_writers_multi_row_insert_takes_hk_rows(
    modes: ModuleType, db: sqlite3.Connection
) -> None:
    """The writer inserts a group's rows in multi-row statements (``sqlwriter._insert_many``:
    ``ORDER_VALUES`` repeated). In ``hash-key`` mode a row has 13 values (``hk`` last): the
    statement's ``VALUES`` must be ``HK_INSERT``'s, or its assert fires (and the writer then
    inserts each row alone: not what the mode means to measure); back in the schema's mode,
    the statements cached for ``hk`` must not be used."""
    switch(modes, db, "hk")
    try:
        modes.use_insert("hk")
        db.execute("BEGIN")
        sqlwriter._insert_chunks(db, [sqlwriter.serialised(row(h, s)) for h, s in
                                      [(H1, 2), (H2, 3), (H3, 4), (H1, 5)]])  # fmt: skip
        db.execute("COMMIT")
        assert rows(db) == [(H1, 2, "open"), (H2, 3, "open"), (H3, 4, "open")]
        keys = dict(db.execute("SELECT hash, hk FROM orders").fetchall())
        assert keys == {h: modes.hash_key(h) for h in (H1, H2, H3)}
        switch(modes, db, "unique")
        modes.use_insert("unique")
        db.execute("BEGIN")
        sqlwriter._insert_chunks(db, [sqlwriter.serialised(row(H1, 6)), sqlwriter.serialised(
            row("0x" + "cd" * 32, 7))])  # fmt: skip
        db.execute("COMMIT")
        assert [s for _, s, _ in rows(db)] == [2, 3, 4, 7]
    finally:
        modes.use_insert("unique")  # (the writer's module is shared by every test)
    assert sqlwriter.INSERT_ORDER == storeschema.INSERT_ORDER
    assert sqlwriter.ORDER_VALUES == storeschema.ORDER_VALUES
