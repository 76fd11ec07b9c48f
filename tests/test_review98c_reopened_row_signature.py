"""review98c (gossip98's finding): a reorg (or a reset's walk, ``_rejudge_chunk``) may put a
closed order evicted from memory back in the book from its stored row (``load_stored``),
on the mirror's word alone (``Mirror.state``: ``signature_valid`` True). The row is a
file's: hostile. A start's reload checks each stored order's signature (``ecdsa_ok``, else
the chain's EIP-1271 verdict: ``_reload_orders``); the reopen did not, so a row whose
order signature was edited went back in the book, and its match would be settled and
revert on chain (a paid revert).

Real Hardhat, a real node on a real SQLite file: Alice's ask filled whole by Bob on chain
after a snapshot, its closed record evicted, its row's order signature replaced by SQL
(Bob's, 65 bytes: it recovers to another account), then the chain taken back to the
snapshot (``evm_revert``) onto a longer branch: the fill undone. The order stays closed,
out of the book, and its row keeps ``filled``. The same with the row edited while the node
is down and the chain reset at its restart: a guard (it passed before; the reset cleared
the mirror, whose chain read, ``getOrderStates``, checks the signature). And a bitmap
order closed by its sibling's fill (mirror31), read back by the walk of its maker's bitmap
orders (``_rejudge_chunk``): a guard too (it passed before: the mirror does not judge a
bitmap order, the chain is read). The first failed before the fix: the order back in the
book; the fix routes every reopen's order through the check, whatever read judges it."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from sdex.signature import sign_hash
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import closed_by_sibling, filled_ask, forgotten, reorged, reset_at_restart
from tests.test_mirror import synced
from tests.test_node import BOB

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""


def resign(db: Path, hash_hex: str, signature: str) -> None:
    """The order's row's order JSON with ``signature`` in place of its own."""
    with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
        (text,) = conn.execute("SELECT order_json FROM orders WHERE hash=?", (hash_hex,)).fetchone()
        order = json.loads(text)
        order["signature"] = signature
        conn.execute("UPDATE orders SET order_json=? WHERE hash=?", (json.dumps(order), hash_hex))


def row_status(db: Path, hash_hex: str) -> str:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        (status,) = conn.execute("SELECT status FROM orders WHERE hash=?", (hash_hex,)).fetchone()
        return str(status)


async def test_a_reorg_does_not_reopen_a_stored_order_whose_signature_was_edited(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, api):
        whole, snap = await filled_ask(c, node, api)
        await forgotten(node, whole)
        hx = whole.hash_hex.lower()
        resign(db, hx, "0x" + sign_hash(whole.hash, c.keys[BOB]).hex())

        await reorged(c, node, snap)
        await wait_for(lambda: node.watcher.caught_up.is_set(), timeout=BOUND)
        assert whole.hash not in node.book
        assert await api.status(whole) == "filled"
        assert row_status(db, hx) == "filled"


async def test_a_reset_does_not_reopen_a_stored_order_whose_signature_was_edited(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    cfg = node_config(c, db)
    async with running_node(cfg) as (node, api):
        whole, snap = await filled_ask(c, node, api)
    hx = whole.hash_hex.lower()
    resign(db, hx, "0x" + sign_hash(whole.hash, c.keys[BOB]).hex())
    async with reset_at_restart(c, cfg, snap, whole) as (node, api):
        assert whole.hash not in node.book
        assert await api.status(whole) == "filled"
        assert row_status(db, hx) == "filled"


async def test_a_bitmap_walk_does_not_reopen_a_stored_order_whose_signature_was_edited(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    maker, taker, nonce = 8, 9, 97
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db, closed_grace=0.2)) as (node, api):
        b, snap = await closed_by_sibling(c, node, api, maker, taker, nonce)
        hx = b.hash_hex.lower()
        resign(db, hx, "0x" + sign_hash(b.hash, c.keys[taker]).hex())
        await reorged(c, node, snap)
        assert c.exchange.order_info(b.order).filled == 0  # (the chain: B whole again)
        await synced(node, c)
        assert b.hash not in node.book
        assert await api.status(b) == "filled"
        assert row_status(db, hx) == "filled"
