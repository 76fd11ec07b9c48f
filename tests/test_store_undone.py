"""The ``undone_fills`` table (``sdex.storeundone``): the fills a reorg undid, kept across a
restart. Real SQLite: written through the store's writer, read back at a start, bounded in
rows; a database from before it gets it; a table of another shape or hostile rows in it are
dropped or skipped, never a crash."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.model import FillEvent
from sdex.node.fillmemory import UndoneFills
from sdex.store import ChainIdentity, Store, StoredFill
from sdex.storeundone import UNDONE_KEPT, parse_rows
from tests.test_store import DOMAIN, IDENTITY

ORDER = "0x" + "11" * 32
TX = "0x" + "22" * 32


def _fill(order: int, tx: int, amount: int) -> FillEvent:
    h = bytes([order]) * 32
    tx_hash = "0x" + bytes([tx]).hex().upper() * 32  # (upper case: kept lower)
    return FillEvent(
        h, "0x" + "a" * 40, "0x" + "b" * 40, amount, 1, "0x" + "c" * 40, 0, 1, tx_hash, 0
    )


@asynccontextmanager
async def _undone(
    path: Path, identity: ChainIdentity = IDENTITY, **kw: int
) -> AsyncIterator[tuple[Store, UndoneFills]]:
    """The store at ``path`` (opened, closed after) and an ``UndoneFills`` attached to it."""
    store = Store(path, identity, DOMAIN)
    try:
        undone = UndoneFills(**kw)
        await undone.attach(store)
        yield store, undone
    finally:
        store.close()


async def _written(w: Awaitable[object] | None) -> None:
    """``add``/``forget`` had something to write: wait for it."""
    assert w is not None
    await w


def _left(path: Path, *sql: str) -> None:
    """A store's database at ``path``, then ``sql`` run on it (as another hand left it)."""
    Store(path, IDENTITY, DOMAIN).close()
    with sqlite3.connect(path) as db:
        for statement in sql:
            db.execute(statement)


def _rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT order_hash, tx_hash, maker_filled FROM undone_fills ORDER BY seq"
        ).fetchall()


async def test_undone_fills_outlive_a_restart_bounded_and_forgotten_once_applied(
    tmp_path: Path,
) -> None:
    path = tmp_path / "n.db"
    async with _undone(path, kept=3) as (_, undone):
        assert len(undone) == 0
        await _written(undone.add([_fill(1, 0xAA, 5), _fill(1, 0xBB, 7), _fill(2, 0xAA, 9)]))
        assert undone.add([]) is None  # (nothing to write)
        await _written(undone.add([_fill(4, 1, 1), _fill(5, 2, 1)]))  # the oldest two go
        assert [(r[0], r[2]) for r in _rows(path)] == [
            ("0x" + "02" * 32, "9"), ("0x" + "04" * 32, "1"), ("0x" + "05" * 32, "1")
        ]  # fmt: skip
        assert undone.forget([_fill(1, 0xAA, 5)]) is None  # (not remembered: no write)
        await _written(undone.forget([_fill(2, 0xAA, 9)]))
    async with _undone(path, kept=3) as (_, again):  # a restart
        assert len(again) == 2
        assert again.mined_again([_fill(4, 1, 1), _fill(5, 2, 1), _fill(2, 0xAA, 9)]) == {
            bytes([4]) * 32: 1, bytes([5]) * 32: 1
        }  # fmt: skip


async def test_a_database_from_before_the_table_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    _left(path, "DROP TABLE undone_fills")  # (as an older version left it)
    async with _undone(path) as (_, undone):
        await _written(undone.add([_fill(1, 2, 3)]))
        assert len(_rows(path)) == 1


async def test_a_table_of_another_shape_is_made_again_empty(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    _left(
        path,
        "DROP TABLE undone_fills",
        "CREATE TABLE undone_fills (order_hash BLOB, amount INTEGER)",
        "INSERT INTO undone_fills VALUES (x'00', -1)",
    )
    async with _undone(path) as (_, undone):
        assert len(undone) == 0
        assert _rows(path) == []


BAD_ROWS = [
    pytest.param(("0x11", TX, "5"), id="short order hash"),
    pytest.param(("0x" + "zz" * 32, TX, "5"), id="order hash not hex"),
    pytest.param(("11" * 33, TX, "5"), id="order hash without 0x"),
    pytest.param((b"\x11" * 32, TX, "5"), id="order hash a blob"),
    pytest.param((7, TX, "5"), id="order hash an integer"),
    pytest.param((ORDER, "0x" + "22" * 31, "5"), id="short transaction hash"),
    pytest.param((ORDER, "0x" + "gg" * 32, "5"), id="transaction hash not hex"),
    pytest.param((ORDER, TX, "0"), id="amount zero"),
    pytest.param((ORDER, TX, "-5"), id="amount negative"),
    pytest.param((ORDER, TX, str(2**256)), id="amount past uint256"),
    pytest.param((ORDER, TX, "9" * 100_000), id="amount of 100k digits"),
    pytest.param((ORDER, TX, "\u0661\u0662"), id="amount in other digits"),
    pytest.param((ORDER, TX, "1e3"), id="amount not an integer"),
    pytest.param((ORDER, TX, b"5"), id="amount a blob"),
    pytest.param((ORDER, TX, 5.5), id="amount a real"),
]


@pytest.mark.parametrize("row", BAD_ROWS)
async def test_a_hostile_row_is_skipped(tmp_path: Path, row: tuple[object, ...]) -> None:
    path = tmp_path / "n.db"
    Store(path, IDENTITY, DOMAIN).close()
    good = ("0x" + "33" * 32, "0x" + "44" * 32, "12")
    with sqlite3.connect(path) as db:
        sql = "INSERT INTO undone_fills (order_hash, tx_hash, maker_filled) VALUES (?,?,?)"
        db.execute(sql, row)
        db.execute(sql, good)
    async with _undone(path) as (_, undone):
        assert len(undone) == 1
        fill = FillEvent(
            bytes.fromhex("33" * 32), "0x" + "a" * 40, "0x" + "b" * 40, 12, 1, "0x" + "c" * 40,
            0, 1, good[1], 0,
        )  # fmt: skip
        assert undone.mined_again([fill]) == {fill.order_hash: 12}


async def test_a_table_of_many_rows_is_read_bounded(tmp_path: Path) -> None:
    """Rows past the bound (written by another hand): the newest ``kept`` are read back."""
    path = tmp_path / "n.db"
    Store(path, IDENTITY, DOMAIN).close()
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO undone_fills (order_hash, tx_hash, maker_filled) VALUES (?,?,?)",
            [("0x" + f"{i:064x}", TX, str(i + 1)) for i in range(500)],
        )
    async with _undone(path, kept=20) as (_, undone):
        assert len(undone) == 20
        newest = FillEvent(
            bytes.fromhex(f"{499:064x}"), "0x" + "a" * 40, "0x" + "b" * 40, 500, 1,
            "0x" + "c" * 40, 0, 1, TX, 0,
        )  # fmt: skip
        assert undone.mined_again([newest]) == {newest.order_hash: 500}
        await _written(undone.add([_fill(1, 2, 3)]))  # a write trims the table to the bound
        assert len(_rows(path)) == 20


CELLS = st.one_of(
    st.none(), st.integers(), st.floats(), st.binary(max_size=40), st.text(max_size=80),
    st.sampled_from([ORDER, TX, "0x" + "AB" * 32, "1", str(2**256 - 1)]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=0, max_size=4).map(tuple), max_size=30))
def test_parse_rows_never_raises_and_keeps_only_fills(rows: list[tuple[object, ...]]) -> None:
    fills, skipped = parse_rows(rows)
    assert len(fills) + skipped <= len(rows)
    for (order, tx), amount in fills.items():
        assert len(order) == 32 and len(tx) == 66 and tx == tx.lower()
        assert 0 < amount < 2**256


async def test_a_database_of_another_chain_forgets_its_undone_fills(tmp_path: Path) -> None:
    """(Another deployment: its orders dropped, the fills a reorg undid of them too. The same
    deployment on a replaced chain keeps them, as a reset does: reset70.)"""
    path = tmp_path / "n.db"
    async with _undone(path) as (_, undone):
        await _written(undone.add([_fill(1, 2, 3)]))
    other = ChainIdentity(IDENTITY.chain_id, "0x" + "ef" * 20, "0x" + "ef" * 32)
    async with _undone(path, other) as (store, again):
        assert store.rebuilt
        assert len(again) == 0


async def test_the_fills_a_reorg_removes_are_kept_as_undone_in_the_same_transaction(
    tmp_path: Path,
) -> None:
    """The store's removal of undone fills (``remove_fills_above``, a reorg's; and
    ``remove_fills_except``, false fills') writes their ``undone_fills`` rows in its own
    transaction: a node that dies right after it, before the node's own write of them,
    still finds them at its restart (close22 left that window open)."""
    path = tmp_path / "n.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        made = [
            StoredFill.of(replace(_fill(order, tx, amount), block_number=block), ours=False)
            for order, tx, amount, block in [(1, 0xAA, 5, 5), (2, 0xBB, 7, 9), (3, 0xCC, 11, 12)]
        ]
        store.add_fills(made)
        gone = await store.remove_fills_above(8)
        assert [f.block_number for f in gone] == [9, 12]
        kept = await store.undone_fills(UNDONE_KEPT)
        assert kept == {
            (bytes([2]) * 32, "0x" + "bb" * 32): 7,
            (bytes([3]) * 32, "0x" + "cc" * 32): 11,
        }
        false = await store.remove_fills_except(5, 5, ())  # (the chain has no fill there)
        assert [f.block_number for f in false] == [5]
    finally:
        store.close()
    store = Store(path, IDENTITY, DOMAIN)  # (a restart: read back from the file)
    try:
        kept = await store.undone_fills(UNDONE_KEPT)
        assert list(kept.values()) == [7, 11, 5]
    finally:
        store.close()
