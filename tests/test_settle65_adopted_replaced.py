"""settle65: replace-by-fee of a settlement a previous run left pooled, adopted at the start
(``sdex.settlement.adopt``): end to end, a real node over Hardhat. The chain's base fee rose
past the adopted transaction's fee cap and blocks go on without it (a live chain's case;
Hardhat keeps it pooled, as geth does): after ``STUCK_BLOCKS`` of them the lane signs it
again at the latest block's fees from the body read back from its stored raw transaction
(``pooled_tx``), the replacement's row holding its pairs; it lands, its match settles once
(its fills listed with the replacement's hash), the original is ``dropped``, and nothing
is matched again. review68: so when its incoming order is IOC (closed at the restart, its
fill counted by the given-up transaction's hash): the replacement's hash was not given up,
and the IOC order's record said 0 filled for good (failed 1 of 1 before)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from sdex.chain.tx import SignedTx, fees_of
from sdex.devnet import Devnet
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import Api, running_node, wait_for
from tests.test_mirror import synced
from tests.test_reorg63_replaced_restart import FEES, stored_pair
from tests.test_settle65_adopt_ioc import stored_pooled
from tests.test_settlement_pooled import at_base_fee, mining


@asynccontextmanager
async def adopted(
    c: Chain, tmp_path: Path, tif: str
) -> AsyncIterator[tuple[Node, Api, SignedOrder, SignedOrder, SignedTx]]:
    """A node started over a settlement of two crossing orders (``tif``: the incoming one's)
    a previous run left pooled, mining paused, and adopted: (node, its client, resting,
    incoming, the pooled transaction). Automine set again on the way out."""
    cfg, store, resting, incoming, _ = stored_pair(c, tmp_path, tif)
    tx = await stored_pooled(c, store, resting, incoming)
    try:
        async with running_node(cfg) as (node, api):
            assert node.settler.adopted == 1 and tx.tx_hash in node.settler.in_flight
            yield node, api, resting, incoming, tx
    finally:
        c.rpc.call("evm_setAutomine", True)


@pytest.mark.parametrize("tif", ["gtc", "ioc"])
async def test_an_adopted_settlement_whose_fee_cap_the_base_fee_outran_is_replaced(
    devnet: Devnet, chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tif: str
) -> None:
    if devnet.engine != "hardhat":
        pytest.skip("anvil drops it from its pool at the next block (test_settlement_pooled)")
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    async with adopted(c, tmp_path, tif) as (node, api, resting, incoming, tx):
        base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        cap = 2 * FEES[0] + FEES[1]
        async with mining(c.rpc.url, at_base_fee(100 * max(cap, 2 * base + FEES[1]))):

            async def filled() -> bool:
                statuses = {await api.status(resting), await api.status(incoming)}
                return statuses == {"filled"} and node.settler.idle.is_set()

            await wait_for(filled, timeout=60.0)
            await wait_for(lambda: not node.settler.in_flight, timeout=30.0)
        await synced(node, c)
        for so in (resting, incoming):  # (each fill counted once; review68: an IOC's too)
            _, rec = await api.get(f"/v1/orders/{so.hash_hex}")
            assert int(rec["metaData"]["filledMakerAmount"]) == so.order.maker_amount, rec
        _, fills = await api.get("/v1/fills")
        landed = {f["transactionHash"] for f in fills["records"]}
        assert int(fills["total"]) == 2 and tx.tx_hash not in landed
        assert node.settler.replaced >= 1 and node.settler.settled == 1
        assert (node.settler.sent, node.settler.failed, node.settler.lost) == (0, 0, 0)
        assert node.settler.gap_fills == 0
        db = node.config.db
    (again,) = landed
    receipt = c.rpc.call("eth_getTransactionReceipt", again)
    assert receipt is not None and receipt["status"] == "0x1"
    assert int(receipt["effectiveGasPrice"], 16) > cap  # (the bumped fees paid)
    assert c.rpc.call("eth_getTransactionReceipt", tx.tx_hash) is None
    assert c.exchange.order_info(resting.order).filled == resting.order.maker_amount
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
        kept = {p for (p,) in conn.execute("SELECT DISTINCT pairs FROM settlements")}
    assert rows[tx.tx_hash] == "dropped" and rows[again] == "mined"
    assert set(rows.values()) == {"dropped", "mined"} and len(kept) == 1
