"""A node's own settlement given up at its restart that lands after all (chaos52). Found by
the chaos run (``bench/chaos52.py``, seed 1): with mining paused, an IOC matched at node 0
and its settlement was in the chain's pool when node 0 was killed; at its restart the
receipt did not come within ``RESTART_RECEIPT_WAIT``, the settlement was counted lost, and
the IOC closed ``removed`` ("not resting after restart") 0 filled. Mining resumed, the
settlement landed, and the node never counted its own fill: the order said nothing traded and
``sdex audit --node`` flagged the node's own settlement as ``fill_after_node_closed``. A
given-up settlement of the node's that lands now counts in its closed orders."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def pooled_at_stop(
    c: Chain, cfg: NodeConfig, resting: SignedOrder, taker: SignedOrder, tif: str
) -> None:
    """``resting`` rests at a node on ``cfg``; with mining paused, ``taker`` (``tif``)
    matches it, and the node stops with the settlement in the chain's pool, unmined (mining
    stays paused: the caller resumes it)."""
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(resting))[0] == 201
        await synced(node, c)
        c.rpc.call("evm_setAutomine", False)
        try:
            code, body = await api.post_taken(taker, tif)
            assert code == 201 and body["matches"], body

            async def pooled() -> bool:
                return bool(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])

            await wait_for(pooled, timeout=20)  # (the settlement sent, not mined)
        except BaseException:
            c.rpc.call("evm_setAutomine", True)
            raise


async def counts(api: Api, signed: SignedOrder, amount: int, timeout: float = 10.0) -> None:
    """Until ``api``'s node says ``signed`` is ``amount`` filled (bounded)."""

    async def counted() -> bool:
        _, rec = await api.get(f"/v1/orders/{signed.hash_hex}")
        return bool(rec["metaData"]["filledMakerAmount"] == str(amount))

    await wait_for(counted, timeout=timeout)


async def lands_and_counts(c: Chain, node: Node, api: Api, ioc: SignedOrder) -> None:
    """Mining resumed: the pooled settlement lands, half of ``ioc`` filled, and the node on
    ``api`` counts it."""
    c.rpc.call("evm_setAutomine", True)
    c.rpc.call("evm_mine")
    await synced(node, c)
    assert c.exchange.order_info(ioc.order).filled == 500 * E6
    await counts(api, ioc, 500 * E6)  # before: "0" for good


async def test_a_settlement_given_up_at_restart_that_lands_counts(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)  # (suite89: 10 s; unmined anyway)
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18 // 2, 500 * E6))  # 0.5 WETH at 1000
    ioc = c.sign(bid(c, BOB, E18, 1000 * E6))  # 1 WETH at 1000: half of it trades
    await pooled_at_stop(c, cfg, resting, ioc, "ioc")
    try:  # restarted while the chain still holds it unmined: given up
        async with running_node(cfg) as (node, api):
            _, rec = await api.get(f"/v1/orders/{ioc.hash_hex}")
            assert rec["metaData"]["status"] == "removed", rec
            await lands_and_counts(c, node, api, ioc)
    finally:
        c.rpc.call("evm_setAutomine", True)
