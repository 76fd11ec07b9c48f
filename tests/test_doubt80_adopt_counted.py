"""doubt80: a pending row adopted unread in a doubt, landed before the start, counts once.

A restart in a chain doubt reads no receipt of a pending row (``test_doubt80_restart_receipt``):
each is adopted, its matches held. review66's case comes back then: a row that landed by the
block the start loaded its orders at is in their filled amounts already, and held again on
top of that, its receipt would apply it a second time (both orders "filled" at the node, half
filled on chain, their remainders never matched again). Now such a row's receipt, taken once
the chain is proven ours, gives its matches back instead (``counted_at_start``). Real
Hardhat, a real node in this process with its SQLite store (review66's rows), the node's own
``ChainDoubt`` raised before its reconcile and proven as the watcher proves one."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import sdex.node.core as core
from sdex.mirror import Header
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_held79_doubt_settlements import WHY, proven
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review66_adopt_landed import FEES, OPERATOR


async def test_a_row_landed_before_a_start_in_doubt_counts_once(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pending settlement of half of two stored orders, mined before the start; the start
    is in doubt from before its reconcile: the row is adopted unread, the orders loaded with
    its fill. Once the doubt is proven its receipt gives the held match back (with the naive
    fix, adopted and applied again: both orders "filled" at the node, half on chain), and
    the remainders are matched again and settled: both filled in full on chain."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1, "open", "api")
    store.add_order(incoming, 2, "open", "api")
    data = c.exchange.encode_settlement([(resting, incoming, E18)])  # (half of each)
    tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    c.rpc.call("eth_sendRawTransaction", tx.raw)  # (mined: before the start)
    assert c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)["status"] == "0x1"
    real = core.reconcile

    async def in_doubt(lane: Any) -> Any:  # (as a start's check of the saved head says)
        if lane.mirror.head is None:  # (a head saved: doubt83 holds a start in doubt with none)
            lane.mirror.head = Header.from_rpc(
                await lane.receipts.call("eth_getBlockByNumber", "latest", False)
            )
        lane.mirror.doubt.said(WHY)
        return await real(lane)

    monkeypatch.setattr(core, "reconcile", in_doubt)
    async with running_node(cfg) as (node, api):
        s = node.settler
        assert node.mirror.doubt.held and s.adopted == 1  # (adopted unread)
        assert c.exchange.order_info(resting.order).filled == E18
        proven(node.mirror.doubt)

        async def filled() -> bool:  # (the remainders matched again and settled)
            statuses = {await api.status(resting), await api.status(incoming)}
            return statuses == {"filled"} and s.idle.is_set() and not s.in_flight

        await wait_for(filled, timeout=60)
        # (the chain filled both in full: the node's "filled" is the chain's)
        assert c.exchange.order_info(resting.order).filled == 2 * E18
        assert c.exchange.order_info(incoming.order).filled == 6000 * E6
        assert s.sent == 1
        db = node.config.db
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows[tx.tx_hash] == "mined" and len(rows) == 2
