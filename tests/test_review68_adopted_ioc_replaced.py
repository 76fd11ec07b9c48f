"""review68: settle65 adopts a pooled settlement whose incoming order is IOC or FOK (closed
at the restart): its fill is counted as the watcher counts a given-up settlement's, by the
transaction's hash. When the adopted transaction is replaced (the base fee outran its fee
cap: ``test_settle65_adopted_replaced``), the replacement lands under another hash; the
one-shot order's fill was not counted then: its hash was not the one given up, and the
order's record said 0 filled for good, though the chain filled it (failed 1 of 1 before).
Now a replacement of a given-up transaction is given up too. Real Hardhat, a real node on
loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain.tx import fees_of
from sdex.devnet import Devnet
from sdex.settlement import reconcile
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg63_replaced_restart import FEES, OPERATOR
from tests.test_settle65_adopt_ioc import stored_pooled
from tests.test_settlement_pooled import at_base_fee, mining


async def test_a_replaced_adopted_settlement_counts_its_one_shot_orders_fill(
    devnet: Devnet, chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if devnet.engine != "hardhat":
        pytest.skip("anvil drops it from its pool at the next block (test_settlement_pooled)")
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1, "open", "api")
    store.add_order(taker, 2, "open", "api", "ioc")
    await stored_pooled(c, store, resting, taker)
    try:
        async with running_node(cfg) as (node, api):
            assert node.settler.adopted == 1
            base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
            cap = 2 * FEES[0] + FEES[1]
            async with mining(c.rpc.url, at_base_fee(100 * max(cap, 2 * base + FEES[1]))):

                async def landed() -> bool:
                    return await api.status(resting) == "filled" and node.settler.idle.is_set()

                await wait_for(landed, timeout=60.0)
                await wait_for(lambda: not node.settler.in_flight, timeout=30.0)

                async def counted() -> bool:  # (the one-shot order's record: its fill)
                    code, rec = await api.get(f"/v1/orders/{taker.hash_hex}")
                    assert code == 200, rec
                    meta = rec["metaData"]
                    filled = int(meta["filledMakerAmount"])
                    return bool(meta["status"] == "filled" and filled == 3000 * E6)

                await wait_for(counted, timeout=20.0)
            assert node.settler.replaced >= 1 and node.settler.settled == 1
            code, rec = await api.get(f"/v1/orders/{resting.hash_hex}")  # (its fill, once)
            assert code == 200, rec
            assert int(rec["metaData"]["filledMakerAmount"]) == E18, rec
    finally:
        c.rpc.call("evm_setAutomine", True)
    assert c.exchange.order_info(taker.order).filled == 3000 * E6
