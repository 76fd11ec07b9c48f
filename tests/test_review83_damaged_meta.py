"""review83: a store whose ``meta`` row ``chain_id`` or ``exchange`` was damaged (junk text,
a blob, empty, the row gone) was read as bound to another deployment at the next start
(``bind_rows``): every order, fill and settlement row deleted, the wallets' acknowledged
orders gone (404), one warning logged. A damaged ``deploy_block_hash`` was sent to the chain
as a block hash, and the start failed blaming the chain ("JSON-RPC error -32602").

Now a domain row the node never writes so is damage, not another deployment: the start
fails with ``StoreOpenError`` naming the row, nothing deleted, and once the row is put right
the node starts with the order open. A damaged deployment block hash is no hash bound (a
reset at the start: the orders kept and judged again). Real Hardhat, real SQLite."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.store import StoreOpenError
from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_restart_mirror import one_ask_saved

DAMAGE = [
    ("chain_id", "UPDATE meta SET value = '' WHERE key = 'chain_id'"),
    ("chain_id", "UPDATE meta SET value = 'null' WHERE key = 'chain_id'"),
    ("chain_id", "UPDATE meta SET value = x'ff' WHERE key = 'chain_id'"),
    ("chain_id", "UPDATE meta SET value = '031337' WHERE key = 'chain_id'"),
    ("chain_id", "DELETE FROM meta WHERE key = 'chain_id'"),
    ("exchange", "UPDATE meta SET value = '0x1' WHERE key = 'exchange'"),
    ("exchange", "UPDATE meta SET value = upper(value) WHERE key = 'exchange'"),
    ("exchange", "DELETE FROM meta WHERE key = 'exchange'"),
]


def _meta(db: Path) -> dict[str, object]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT key, value FROM meta"))


def _orders(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])


@pytest.mark.parametrize(("key", "damage"), DAMAGE, ids=[d[1][:48] for d in DAMAGE])
async def test_a_damaged_domain_row_keeps_the_orders(
    chain: Chain, tmp_path: Path, key: str, damage: str
) -> None:
    c = chain
    cfg, s = await one_ask_saved(c, tmp_path)
    sound = _meta(cfg.db)
    with sqlite3.connect(cfg.db) as conn:
        conn.execute(damage)
    with pytest.raises(StoreOpenError, match=key):
        async with running_node(cfg):
            pass
    assert _orders(cfg.db) == 1  # (nothing deleted)
    with sqlite3.connect(cfg.db) as conn:  # the operator puts the row right
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, sound[key]))
    async with running_node(cfg) as (_node, api):
        assert await api.status(s) == "open"


@pytest.mark.parametrize("junk", ["", "null", "0x" + "g" * 64, "9" * 200])
async def test_a_damaged_deployment_hash_is_none_bound(
    chain: Chain, tmp_path: Path, junk: str
) -> None:
    c = chain
    cfg, s = await one_ask_saved(c, tmp_path)
    with sqlite3.connect(cfg.db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'deploy_block_hash'", (junk,))
    async with running_node(replace(cfg)) as (_node, api):
        assert await api.status(s) == "open"
    assert str(_meta(cfg.db)["deploy_block_hash"]).startswith("0x")
