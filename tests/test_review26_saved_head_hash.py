"""review26: a saved head whose hash is not as this node writes it (``0x`` and 64 lower-case
hex digits) makes the saved mirror unreadable (the chain read anew), as review25 did for a
mark's hash. Before, the start read it as hex (``int(hash, 16)``, ``sdex.watch.fork`` and
the watcher): a hash that was not hex raised ``ValueError`` out of the node's start. Real
Hardhat, a real node restarted on the same SQLite store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_node import E18
from tests.test_restart_mirror import one_part_filled_saved, status

DAMAGE = {
    "not hex": "0x" + "zz" * 32,
    "empty": "",
    "upper case": "0x" + "AB" * 32,
    "a digit short": "0x" + "ab" * 31 + "a",
    "a number": 5,
}
"""Saved head hashes this node does not write."""


@pytest.mark.parametrize("damage", sorted(DAMAGE))
async def test_a_saved_head_hash_not_as_written_makes_the_saved_mirror_unreadable(
    chain: Chain, tmp_path: Path, damage: str
) -> None:
    cfg, s = await one_part_filled_saved(chain, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        (raw,) = db.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
        number, _, timestamp = json.loads(raw)
        bad = json.dumps([number, DAMAGE[damage], timestamp])
        db.execute("UPDATE meta SET value=? WHERE key='mirror_head'", (bad,))

    async with running_node(cfg) as (node, api):
        assert not node.watcher.resumed  # (unreadable: the orders read from the chain)
        assert node.records[s.hash].filled == E18 // 10
        assert await status(api, s) == "partially_filled"
