"""``Store.update_orders`` sets many orders' rows in one statement a chunk (settle29: row by
row, each update's statement journal cost O(rows) to end inside the writer's job savepoint);
what it leaves is what the same rows applied one by one, in order, leave: the last given
for a hash wins, a hash not stored changes nothing, and ``order_counts`` stays
``COUNT(*)``'s. Checked against a row-by-row model on a real SQLite store, with batches
across the chunk bound and its padding."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdex import storeorders
from sdex.model import OrderStatus as S
from sdex.store import Store
from tests.test_listing_cursor import DOMAIN, IDENTITY, POOL  # type: ignore[attr-defined]
from tests.test_order_counts import _counts

STATUSES = [s.value for s in S]
Row = tuple[int | str, str, int, str]
"""(a ``POOL`` index or a hash never stored, status, filled, reason)"""
UNKNOWN = ["0x" + f"{i:02x}" * 32 for i in range(3)]
"""Hashes never stored: their updates match no row."""
ROW = st.tuples(
    st.one_of(st.integers(0, len(POOL) - 1), st.sampled_from(UNKNOWN)),
    st.sampled_from(STATUSES),
    st.integers(0, 2**256 - 1),
    st.sampled_from(["", "filled", "settlement failed: unfunded"]),
)


def _rows(path: Path) -> dict[str, tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        got = {h: (s, f, r) for h, s, f, r in db.execute(
            "SELECT hash, status, filled, reason FROM orders")}  # fmt: skip
    db.close()
    return got


async def _apply(path: Path, batches: list[list[Row]]) -> None:
    store = Store(path, IDENTITY, DOMAIN)
    try:
        for i, so in enumerate(POOL):
            store.add_order(so, i + 1, "open", "api")
        store.order("0x" + "00" * 32)  # (committed)
        model = _rows(path)
        for batch in batches:
            rows = [
                (h if isinstance(h, str) else POOL[h].hash_hex, s, f, r) for h, s, f, r in batch
            ]
            for h, s, f, r in rows:  # the model: one by one, in order
                if h in model:
                    model[h] = (s, str(f), r)
            await store.update_orders(rows)
            assert _rows(path) == model
            kept, counted = _counts(path)
            assert kept == counted
    finally:
        store.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(ROW, max_size=150), min_size=1, max_size=4))
def test_update_orders_leaves_what_row_by_row_updates_leave(
    batches: list[list[Row]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_apply(Path(tmp) / "s.db", batches))


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 80])
def test_each_order_of_a_batch_is_set_across_the_chunk_bound(n: int, tmp_path: Path) -> None:
    """Batches of every size around ``UPDATES_A_STATEMENT`` (the last chunk padded to a power
    of two with rows that match nothing), each hash twice: the second one wins."""
    first: list[Row] = [(i % len(POOL), "filled", i, "first") for i in range(n)]
    second: list[Row] = [(i % len(POOL), "removed", 7 * i, "second") for i in range(n)]
    asyncio.run(_apply(tmp_path / "s.db", [first + second]))


def test_without_update_from_the_rows_go_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite before 3.33 (no ``UPDATE ... FROM``): the rows are updated one by one, with
    the same outcome."""
    monkeypatch.setattr(storeorders, "UPDATE_FROM", False)
    batch: list[Row] = [(i, "filled", i, "") for i in range(70)]
    batch += [(0, "cancelled", 1, "x"), (UNKNOWN[0], "open", 0, "")]
    asyncio.run(_apply(tmp_path / "s.db", [batch]))
