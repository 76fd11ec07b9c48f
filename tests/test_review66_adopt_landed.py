"""review66: a settlement a previous run left pooled that lands after the restart's
reconcile judged it pooled (``Reconcile.pooled``) and before the node adopts it
(``NodeSettlement._adopt``): meanwhile the start loaded its orders with the chain's filled
amounts, which count it already. Adopted, its match was held again on top of that (the
order's remainder taken by a match already counted) and its receipt applied it a second
time: the node showed both orders filled in full while the chain filled half of each, and
never matched their remainders. Now ``_adopt`` reads the head, then the row's receipt:
landed at or below that head, it is not adopted (its row marked as its receipt says), the
loaded filled amounts stand; landed above it (in none of them), it is adopted."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import sdex.node.adoption as adoption
import sdex.node.core as core
from sdex.settlement import reconcile
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

OPERATOR = 19
FEES = (10**9, 10**9)


@pytest.mark.parametrize("after", ["reconcile", "head"])
async def test_a_pooled_settlement_landing_before_its_adoption_is_counted_once(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: str
) -> None:
    """``after``: the pool mined once reconcile judged it pooled (the orders then loaded
    with its fill: not adopted), or once ``_adopt`` read the head the orders were loaded
    at (its fill in none of them: adopted, its receipt applied once by the settler)."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
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

    real, read_receipt = core.reconcile, adoption.landed
    judged: list[int] = []

    async def judged_then_mined(lane: Any) -> Any:
        pooled = await real(lane)
        judged.append(len(pooled))
        if after == "reconcile":
            c.rpc.call("evm_mine")
        return pooled

    async def mined_then_read(lane: Any, tx_hash: str) -> Any:
        if after == "head":
            c.rpc.call("evm_mine")
        return await read_receipt(lane, tx_hash)

    monkeypatch.setattr(core, "reconcile", judged_then_mined)
    monkeypatch.setattr(adoption, "landed", mined_then_read)
    c.rpc.call("evm_setAutomine", False)
    try:
        c.rpc.call("eth_sendRawTransaction", tx.raw)
        async with running_node(cfg) as (node, api):
            assert judged == [1]  # (judged pooled: the window this test is about)
            assert c.exchange.order_info(resting.order).filled == E18
            c.rpc.call("evm_setAutomine", True)

            async def filled() -> bool:  # (the remainders matched again and settled)
                c.rpc.call("evm_mine")
                statuses = {await api.status(resting), await api.status(incoming)}
                return statuses == {"filled"} and node.settler.idle.is_set()

            await wait_for(filled)
            # (the chain filled both in full: the node's "filled" is the chain's)
            assert c.exchange.order_info(resting.order).filled == 2 * E18
            assert c.exchange.order_info(incoming.order).filled == 6000 * E6
            assert node.settler.adopted == (after == "head") and node.settler.sent == 1
            db = node.config.db
    finally:
        c.rpc.call("evm_setAutomine", True)
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows[tx.tx_hash] == "mined" and len(rows) == 2
