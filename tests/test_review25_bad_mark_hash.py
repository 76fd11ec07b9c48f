"""review25: a saved mirror row whose hash is not as this node writes it (``0x`` and 64
lowercase hex digits) makes the saved mirror unreadable, so the chain is read anew, as for
a hash that is not hex at all (``sdex.watch.saved``). Before, such a hash was read as bytes
anyway (``bytes.fromhex`` takes upper case; a short one makes a short key): the filter named
the order, its row was looked up by the hash as written (lower case) and not found, and the
order was judged never filled: a node restarted on the damaged file offered an order the
chain had part-filled as untouched (``open``). Real Hardhat, a real node restarted on the
same SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_node import E18
from tests.test_restart_mirror import one_part_filled_saved, status

DAMAGE = {
    "upper case": "'0x' || upper(substr(hash, 3))",
    "0X prefix": "'0X' || substr(hash, 3)",
    "a digit short": "substr(hash, 1, 65)",
    "no prefix, two digits more": "substr(hash, 3) || 'ab'",
}
"""SQL expressions of the row's hash, each not what this node writes."""


@pytest.mark.parametrize("damage", sorted(DAMAGE))
async def test_a_mark_hash_not_as_written_makes_the_saved_mirror_unreadable(
    chain: Chain, tmp_path: Path, damage: str
) -> None:
    c = chain
    cfg, s = await one_part_filled_saved(c, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        sql = f"UPDATE mirror_orders SET hash={DAMAGE[damage]} WHERE hash=?"
        assert db.execute(sql, (s.hash_hex.lower(),)).rowcount == 1

    async with running_node(cfg) as (node, api):
        assert not node.watcher.resumed  # (unreadable: the orders read from the chain)
        assert node.records[s.hash].filled == E18 // 10
        assert await status(api, s) == "partially_filled"
