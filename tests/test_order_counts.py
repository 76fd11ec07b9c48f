"""How many orders have each status (``order_counts``, kept by triggers: ``sdex.storeschema
.ORDER_COUNTS``) is what ``COUNT(*)`` says, whatever writes the orders, and the first page
of ``GET /v1/orders?status=`` counts there.

Before (leftovers17's bench, review18), that page counted with ``COUNT(*) WHERE status=?``:
``status`` has no index, so every row was read (130-360 ms on 100,000 orders)."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdex.model import OrderStatus as S
from sdex.store import ChainIdentity, Store
from tests.test_listing_cursor import DOMAIN, IDENTITY, POOL

STATUSES = [s.value for s in S]
STEP = st.one_of(
    st.tuples(st.just("add"), st.integers(0, len(POOL) - 1), st.sampled_from(STATUSES)),
    st.tuples(
        st.just("set"),
        st.lists(st.tuples(st.integers(0, len(POOL) - 1), st.sampled_from(STATUSES)), max_size=4),
    ),
    st.tuples(st.just("unusable"), st.integers(0, len(POOL) - 1)),
    st.tuples(st.just("close_unparseable"), st.integers(0, len(POOL) - 1)),
    st.tuples(st.just("reopen"), st.booleans()),
)


def _counts(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(``order_counts`` without zeros, ``COUNT(*)`` by status) as committed."""
    with sqlite3.connect(path) as db:
        kept = dict(db.execute("SELECT status, n FROM order_counts WHERE n != 0").fetchall())
        counted = dict(db.execute("SELECT status, COUNT(*) FROM orders GROUP BY status"))
    db.close()
    return kept, counted


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=30))
def test_the_kept_counts_are_count_star_whatever_writes_the_orders(
    steps: list[tuple[object, ...]],
) -> None:
    """Orders added (again: ignored), their statuses set (to the same or another), a row
    made unusable and the order stored again in its place (an upsert), open rows closed as
    unparseable, the store reopened (on another chain: every row deleted): after each step
    the kept counts are ``COUNT(*)``'s, and a first page by status says them."""
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(Path(tmp) / "s.db", steps))


async def _run(path: Path, steps: list[tuple[object, ...]]) -> None:
    store = Store(path, IDENTITY, DOMAIN)
    seq = [0]
    try:
        for step in steps:
            kind = step[0]
            if kind == "add":
                seq[0] += 1
                signed = POOL[int(step[1])]  # type: ignore[call-overload]
                store.add_order(signed, seq[0], str(step[2]), "api")
            elif kind == "set":
                rows = [(POOL[i].hash_hex, s, 0, "") for i, s in step[1]]  # type: ignore[attr-defined]
                await store.update_orders(rows)
            elif kind == "unusable":
                h = POOL[int(step[1])].hash_hex  # type: ignore[call-overload]
                await store.update_orders([(h, "removed", 0, "unparseable")])
                seq[0] += 1
                store.add_order(POOL[int(step[1])], seq[0], "open", "api")  # type: ignore[call-overload]
            elif kind == "close_unparseable":
                store.close_unparseable([POOL[int(step[1])].hash_hex])  # type: ignore[call-overload]
            else:
                store.close()
                other = ChainIdentity(IDENTITY.chain_id, IDENTITY.exchange, "0x" + "22" * 32)
                store = Store(path, other if step[1] else IDENTITY, DOMAIN)
            store.order("0x" + "00" * 32)  # (every write queued before is committed)
            kept, counted = _counts(path)
            assert kept == counted, (step, kept, counted)
            for status in [None, *STATUSES]:
                filters = {} if status is None else {"status": status}
                got = await store.order_rows(filters, 1, 5)
                want = sum(counted.values()) if status is None else counted.get(status, 0)
                assert got.total == want, (status, got.total, want)
    finally:
        store.close()


async def test_a_store_from_before_the_counts_counts_its_orders_at_open(tmp_path: Path) -> None:
    """A store without ``order_counts`` (or with an orders table rebuilt, which drops its
    triggers): counted at open, kept from then on."""
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    for i, s in enumerate(POOL[:9]):
        store.add_order(s, i + 1, "open" if i % 3 else "filled", "api")
    store.close()
    with sqlite3.connect(path) as db:
        db.executescript(
            "DROP TRIGGER orders_counted_insert; DROP TRIGGER orders_counted_update;"
            " DROP TRIGGER orders_counted_delete; DROP TABLE order_counts;"
        )
        db.execute("UPDATE orders SET status='cancelled' WHERE seq=1")
    db.close()
    store = Store(path, IDENTITY, DOMAIN)
    try:
        assert _counts(path)[0] == {"open": 6, "filled": 2, "cancelled": 1}
        await store.update_orders([(POOL[1].hash_hex, "filled", 1, "")])
        store.add_order(POOL[20], 30, "open", "api")
        store.order("0x" + "00" * 32)
        assert _counts(path)[0] == _counts(path)[1] == {"open": 6, "filled": 3, "cancelled": 1}
        assert (await store.order_rows({"status": "open"}, 1, 2)).total == 6
    finally:
        store.close()


def test_a_first_page_by_status_reads_the_kept_count_not_every_row(tmp_path: Path) -> None:
    """The count of a first page by status is a search of ``order_counts``, not a scan."""
    path = tmp_path / "s.db"
    Store(path, IDENTITY, DOMAIN).close()
    with sqlite3.connect(path) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT COALESCE(SUM(n), 0) FROM order_counts WHERE status=?",
            ["open"],
        ).fetchall()
    db.close()
    text = " ".join(str(r[-1]) for r in plan)
    assert "SEARCH order_counts" in text and "orders " not in text, text
