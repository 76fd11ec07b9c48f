"""A saved mirror that another hand (a disk error, an edit, a bug of an older version) left
inconsistent or hostile: the node still starts, and judges its stored orders by the chain
(the saved mirror is a cache of it). Real Hardhat, a real node restarted on the same SQLite
store (review23)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_node import CAROL
from tests.test_restart_mirror import offered, one_ask_saved, saved_past, status

HEAD_X = '["x", "0x00", 1]'
RANDOM_HASH = "'0x' || lower(hex(randomblob(32)))"
CORRUPTIONS = [
    ("head not JSON", "UPDATE meta SET value='{[' WHERE key='mirror_head'"),
    ("head of two items", "UPDATE meta SET value='[1, 2]' WHERE key='mirror_head'"),
    ("head a string number", f"UPDATE meta SET value='{HEAD_X}' WHERE key='mirror_head'"),
    ("head an object", "UPDATE meta SET value='{\"a\": 1}' WHERE key='mirror_head'"),
    ("a balance not a number", "UPDATE mirror_funds SET balance='abc'"),
    ("a balance below zero", "UPDATE mirror_funds SET balance='-5'"),
    ("a balance past uint256", f"UPDATE mirror_funds SET balance='{2**300}'"),
    ("an allowance of junk", "UPDATE mirror_funds SET allowance='1e99'"),
    ("a salt not a number", "INSERT INTO mirror_makers VALUES ('0xabc', 'zz')"),
    ("an order mark not a number", f"INSERT INTO mirror_orders VALUES ({RANDOM_HASH}, 'x', 0)"),
    ("an order mark's hash not hex", "INSERT INTO mirror_orders VALUES ('0xzz', '5', 0)"),
]  # fmt: skip


@pytest.mark.parametrize("sql", [c[1] for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS])
async def test_a_hostile_saved_mirror_is_not_a_failed_start(
    chain: Chain, tmp_path: Path, sql: str
) -> None:
    c = chain
    cfg, s = await one_ask_saved(c, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        db.execute(sql)

    async with running_node(cfg) as (node, api):
        assert node.started.is_set()
        assert await status(api, s) == "open"
        assert await offered(api, c) == {s.hash_hex.lower()}
        carol = (c.address(CAROL), c.weth.address)
        truth = min(c.weth.balance_of(carol[0]), c.weth.allowance(carol[0], c.exchange.address))
        assert node.mirror.spendable(carol) in (None, truth)
        if "randomblob" not in sql:  # (a mark no order names: read only when named)
            assert not node.watcher.resumed
            await wait_for(lambda: node.watcher.resets == 1, timeout=20)
        c.rpc.call("evm_mine")
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_past(node, head), timeout=20)

    async with running_node(cfg) as (node, api):  # (saved anew: resumed from it)
        assert node.watcher.resumed
        assert node.reloaded_from_chain == 0
        assert await status(api, s) == "open"
        assert node.mirror.spendable(carol) == truth
