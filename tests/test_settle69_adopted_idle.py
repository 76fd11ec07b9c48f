"""settle69 (settle65's left): replace-by-fee of an adopted settlement on a chain that mines on
the send and is idle: no block comes. The node starts while Hardhat's mining is paused (the
pooled settlement adopted, its matches held), then automine is set again with nothing sent:
Hardhat mines nothing of its pool until it is sent a transaction. The adopted flight finds
it pooled with no new block for ``STUCK_IDLE``; a replacement at its nonce is refused while
Hardhat automines, and the lane sends a transfer of nothing at its next nonce
(``NonceLane._nudge``), which Hardhat mines with the pool: the adopted settlement lands,
settles once (an IOC incoming's fill counted too), nothing is matched again. (Anvil mines
its pool when automine is set again: no idle case there.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdex.devnet import Devnet
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_mirror import synced
from tests.test_reorg63_replaced_restart import OPERATOR
from tests.test_settle65_adopted_replaced import adopted


@pytest.mark.parametrize("tif", ["gtc", "ioc"])
async def test_an_adopted_settlement_on_an_idle_automining_chain_lands(
    devnet: Devnet, chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tif: str
) -> None:
    if devnet.engine != "hardhat":
        pytest.skip("anvil mines its pool when automine is set again: never idle with it")
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    async with adopted(c, tmp_path, tif) as (node, api, resting, incoming, tx):
        head = c.rpc.call("eth_blockNumber")
        c.rpc.call("evm_setAutomine", True)  # (nothing sent: no block comes)
        assert c.rpc.call("eth_blockNumber") == head

        async def filled() -> bool:
            statuses = {await api.status(resting), await api.status(incoming)}
            return statuses == {"filled"} and not node.settler.in_flight

        await wait_for(filled, timeout=60.0)
        await synced(node, c)
        for so in (resting, incoming):  # (each fill counted once; an IOC's too)
            _, rec = await api.get(f"/v1/orders/{so.hash_hex}")
            assert int(rec["metaData"]["filledMakerAmount"]) == so.order.maker_amount, rec
        _, fills = await api.get("/v1/fills")
        assert {f["transactionHash"] for f in fills["records"]} == {tx.tx_hash}
        assert (node.settler.sent, node.settler.failed, node.settler.lost) == (0, 0, 0)
        assert (node.settler.settled, node.settler.pool_nudges) == (1, 1)
        db = node.config.db
    mined = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"), 16)
    assert mined == tx.nonce + 2  # (the settlement, then the transfer of nothing)
    assert c.exchange.order_info(resting.order).filled == resting.order.maker_amount
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    # (the refused replacement's row, recorded before its send as every settlement is: dropped)
    assert rows.pop(tx.tx_hash) == "mined" and list(rows.values()) == ["dropped"]
