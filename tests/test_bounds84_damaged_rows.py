"""bounds84: an acknowledged open order whose stored row was damaged (a filled amount of
'-5', a created_at of 'abc', a soft cancel's signature of '0xzz', its JSON cut short...) was
skipped at the next start with one log line and closed ('removed', 'unparseable'): its hash
answered 404, as for an order never accepted, and /health's counts of it were this start's
only; the start after named nothing. The wallet's acknowledged order was gone quietly.

Now every such row is named: /health's ``store.damagedRows`` (how many, the first hashes),
this start and every later one (read from the store), a warning at each start, and the
order's hash answers 503 "damaged", not 404. Once the operator puts the row right the node
starts with the order open. Real Hardhat, a real node, a real SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_restart_mirror import one_ask_saved

DAMAGE = [
    ("filled", "'-5'"),
    ("filled", "'1e3'"),
    ("created_at", "'abc'"),
    ("created_at", "'inf'"),
    ("cancel_sig", "'0xzz'"),
    ("order_json", "'{\"maker\": 1'"),
    ("taker", "'0xnot'"),
]


@pytest.mark.parametrize(("column", "value"), DAMAGE, ids=[f"{c}={v}" for c, v in DAMAGE])
async def test_a_damaged_order_row_is_named_not_gone(
    chain: Chain, tmp_path: Path, column: str, value: str
) -> None:
    """Before: 404, and no ``damagedRows`` (failed 7 of 7)."""
    cfg, s = await one_ask_saved(chain, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        (sound,) = db.execute(f"SELECT {column} FROM orders WHERE hash=?", (s.hash_hex,)).fetchone()
        db.execute(f"UPDATE orders SET {column} = {value} WHERE hash=?", (s.hash_hex,))
    for _start in range(2):  # (the start that met it, and the next)
        async with running_node(cfg) as (_node, api):
            code, body = await api.get(f"/v1/orders/{s.hash_hex}")
            assert code == 503 and "damaged" in str(body), (code, body)
            code, health = await api.get("/health")
            damaged = health["store"]["damagedRows"]
            assert damaged == {"count": 1, "hashes": [s.hash_hex]}, damaged
    with sqlite3.connect(cfg.db) as db:  # the operator puts the row right
        db.execute(
            f"UPDATE orders SET {column} = ?, status = 'open', reason = '' WHERE hash=?",
            (sound, s.hash_hex),
        )
    async with running_node(cfg) as (_node, api):
        assert await api.status(s) == "open"
        code, health = await api.get("/health")
        assert health["store"]["damagedRows"] == {"count": 0, "hashes": []}
