"""doubt83 (doubt82's unverified fourth): a settlement a previous run left pooled that lands
after a start that did not resume read its stored orders at "latest" and before ``_adopt``
reads the chain's head.

The orders' filled amounts are the chain's before it landed; ``_adopt`` then asks the head,
past its block, and reads its receipt: "landed at the start: not adopted" (review66's rule),
though its fill is in none of the loaded amounts. Real Hardhat (mining only when told), a
real node in this process on its SQLite store with no saved head (not resumed): the pool is
mined right after the orders' read (review66's two windows are before it and after the
head's read)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sdex.node.reload import NodeReload
from sdex.settlement import reconcile
from sdex.store import ChainIdentity, Store
from sdex.watch import watcher
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_review66_adopt_landed import FEES, OPERATOR


@pytest.mark.parametrize("saved", [False, True])
async def test_a_pooled_settlement_landing_after_the_orders_latest_read_counts_once(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, saved: bool
) -> None:
    """A pending settlement of half of two stored orders, pooled; the start (no saved head,
    or ``saved``: one far behind, not resumed) reads the orders at "latest", then the pool
    is mined. The node ends with both orders filled in full on chain and at the node, the
    remainders matched and settled once."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    if saved:  # (a first run: a head saved; then far behind it, as the watcher counts)
        async with running_node(cfg) as (_, api):
            other = c.sign(ask(c, CAROL, E18, 9000 * E6, salt=8343))
            assert (await api.post_taken(other))[0] == 201
        monkeypatch.setattr(watcher, "CATCH_UP_BLOCKS", 2)
        c.rpc.call("hardhat_mine", "0x5")
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6, salt=8341))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6, salt=8342))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1001, "open", "api")
    store.add_order(incoming, 1002, "open", "api")
    data = c.exchange.encode_settlement([(resting, incoming, E18)])  # (half of each)
    tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    real = NodeReload._reload_orders
    loaded: list[int] = []

    async def read_then_mined(node: NodeReload) -> None:
        await real(node)
        rec = node.records.get(resting.hash)
        loaded.append(-1 if rec is None else rec.filled)
        c.rpc.call("evm_mine")  # (the pool lands: after the orders' read, before the head's)

    monkeypatch.setattr(NodeReload, "_reload_orders", read_then_mined)
    c.rpc.call("evm_setAutomine", False)
    try:
        c.rpc.call("eth_sendRawTransaction", tx.raw)
        async with running_node(cfg) as (node, api):
            assert loaded == [0], loaded  # (read before it landed)
            assert not node.watcher.resumed
            assert c.exchange.order_info(resting.order).filled == E18
            c.rpc.call("evm_setAutomine", True)

            async def filled() -> bool:  # (the remainders matched again and settled)
                c.rpc.call("evm_mine")
                statuses = {await api.status(resting), await api.status(incoming)}
                return statuses == {"filled"} and node.settler.idle.is_set()

            await wait_for(filled, timeout=60)
            assert c.exchange.order_info(resting.order).filled == 2 * E18
            assert c.exchange.order_info(incoming.order).filled == 6000 * E6
            assert node.settler.sent == 1, node.settler.sent
            assert node.settler.failed == 0, node.settler.failed
            db = node.config.db
    finally:
        c.rpc.call("evm_setAutomine", True)
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows[tx.tx_hash] == "mined" and len(rows) == 2, rows
