"""http25's schema candidate, measured by ``bench/http_modes.py --modes hash-prefix``: the
``orders`` table without ``hash``'s unique index (an index on the hash's 16 first hex digits
instead, and a trigger that keeps each order once). The bench's figures mean something only
if the candidate keeps ``INSERT_ORDER``'s rules on the node's real store: an order stored
once, an unusable row replaced by the same order sent again, two hashes that share their
first 8 bytes both stored, the status counts exact, and each lookup by hash an index search
(SQLite 3.40 puts a parameter compared with ``hash`` into the indexed expression and scans
the table unless the comparison is written ``+hash``)."""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from sdex.store import Store
from sdex.storeschema import PRAGMAS
from tests.test_listing_cursor import DOMAIN, IDENTITY

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def modes() -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT / "bench"))  # (its ``node`` bench module, as a script has)
        spec = importlib.util.spec_from_file_location(
            "bench_http_modes", ROOT / "bench" / "http_modes.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = str(tmp_path / "node.db")
    Store(path, IDENTITY, DOMAIN).close()  # (the node's own schema, counts' triggers and all)
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    yield conn
    conn.close()


def row(h: str, seq: int, status: str = "open") -> tuple[object, ...]:
    m = "0x" + "aa" * 20
    t = None  # (taker: "{}" names none)
    return (h, seq, m, "0x" + "11" * 20, "0x" + "22" * 20, "{}", status, "api", "gtc", 1.0, 1.0, t)


def counts(db: sqlite3.Connection) -> dict[str, int]:
    return {s: n for s, n in db.execute("SELECT status, n FROM order_counts") if n}


def rows(db: sqlite3.Connection) -> list[tuple[str, int, str]]:
    return db.execute("SELECT hash, seq, status FROM orders ORDER BY seq").fetchall()


H1 = "0x" + "ab" * 32
H2 = "0x" + "ab" * 8 + "cd" * 24  # (H1's first 8 bytes)
H3 = "0x" + "01" * 32


def switch(modes: ModuleType, db: sqlite3.Connection, prefix: bool) -> None:
    db.execute("BEGIN")
    modes.set_hash_key(db, prefix)
    modes.set_counts(db, True)
    db.execute("COMMIT")


@pytest.mark.parametrize("prefix", [False, True], ids=["schema", "hash-prefix"])
def test_the_candidate_keeps_insert_orders_rules(
    modes: ModuleType, db: sqlite3.Connection, prefix: bool
) -> None:
    """The same cases through the schema's ``INSERT_ORDER`` and the candidate's insert."""
    insert = modes.PREFIX_INSERT if prefix else modes.INSERT_ORDER
    db.execute(modes.INSERT_ORDER, row(H3, 1, "filled"))  # (stored before the switch)
    switch(modes, db, prefix)
    assert rows(db) == [(H3, 1, "filled")]  # (the rebuild copied it)
    db.execute(insert, row(H1, 2))
    db.execute(insert, row(H1, 3))  # the same order again: kept once, as it was
    db.executemany(insert, [row(H2, 4), row(H2, 5)])  # another sharing its first 8 bytes
    assert rows(db) == [(H3, 1, "filled"), (H1, 2, "open"), (H2, 4, "open")]
    assert counts(db) == {"filled": 1, "open": 2}
    db.execute("UPDATE orders SET status='removed', reason='unparseable' WHERE hash=?", (H1,))
    db.execute(insert, row(H1, 6))  # an unusable row: the order sent again takes its place
    assert rows(db) == [(H3, 1, "filled"), (H2, 4, "open"), (H1, 6, "open")]
    assert db.execute("SELECT reason FROM orders WHERE seq=6").fetchone() == ("",)
    assert counts(db) == {"filled": 1, "open": 2}


def test_lookups_by_the_prefix_search_its_index(modes: ModuleType, db: sqlite3.Connection) -> None:
    switch(modes, db, True)
    plan = " ".join(
        str(r[3]) for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM orders"
            " WHERE substr(hash, 3, 16) = substr(?1, 3, 16) AND +hash = ?1", (H1,)
        )
    )  # fmt: skip
    assert "USING INDEX orders_hash_prefix" in plan
    plain = db.execute(
        "EXPLAIN QUERY PLAN SELECT seq FROM orders"
        " WHERE substr(hash, 3, 16) = substr(?1, 3, 16) AND hash = ?1",
        (H1,),
    ).fetchall()
    assert "SCAN" in " ".join(str(r[3]) for r in plain)  # (the pitfall the ``+`` avoids)
    switch(modes, db, False)  # and back: the schema's own unique index
    assert (
        db.execute("SELECT 1 FROM sqlite_master WHERE name='orders_hash_prefix'").fetchone() is None
    )
    db.execute(modes.INSERT_ORDER, row(H1, 7))
    db.execute(modes.INSERT_ORDER, row(H1, 8))
    assert rows(db) == [(H1, 7, "open")]
