"""review25: the orders whose saved mirror row was unreadable (the mirror's ``unknown``:
judged by the chain, never saved over) are counted on ``/health``
(``chainMirror.mirror.ordersUnknown``); before, only a warning in the log said so. Real
Hardhat, a real node restarted on the same SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, E6, E18, ask
from tests.test_restart_mirror import part_filled_and_saved, status


async def test_unknown_marks_are_counted_on_health(chain: Chain, tmp_path: Path) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    s = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        await part_filled_and_saved(node, api, c, s)
        code, health = await api.get("/health")
        assert code == 200 and health["chainMirror"]["mirror"]["ordersUnknown"] == 0
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE mirror_orders SET filled='x' WHERE hash=?", (s.hash_hex.lower(),))

    async with running_node(cfg) as (node, api):
        assert await status(api, s) == "partially_filled"  # (the chain's word)
        code, health = await api.get("/health")
        assert code == 200
        assert health["chainMirror"]["mirror"]["ordersUnknown"] == 1
