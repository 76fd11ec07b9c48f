"""review62: a soft cancel whose chain read of its fills failed is read again after
``cancels_retry`` (flake60's finding): a fill mined before the cancel counts (flake60's
case), and since cancel62 (a soft-cancelled order's record follows the chain's filled
amount: the cancel binds the nodes, not the chain) a fill mined after it, a wallet's own
``fillOrder`` of the signed order, counts too. (review62 had the read again made as of the
chain's time of the first read, to keep that later fill out for the audit to flag;
cancel62's rule replaced it.) Real Hardhat, a real node behind a loopback proxy that drops its chain
connections while told to."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.reorgutil import soft_cancel
from tests.test_node import ALICE, CAROL, E6, E18, ask
from tests.test_review52_cancelled_read_drop import dropping_node


async def test_a_cancel_read_again_counts_the_fill_before_it_and_the_one_after(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    caplog.set_level(logging.INFO, logger="sdex.node")
    async with dropping_node(c, tmp_path) as (node, api, _proxy, dropping):
        node.cancels_retry = 0.5
        before = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000, filled first
        after = c.sign(ask(c, ALICE, 2 * E18, 2002 * E6))  # 2 WETH at 1001, filled later
        for o in (before, after):
            assert (await api.post_order(o))[0] == 201
        dropping.on = True  # (the node's chain reads fail: the mirror falls behind)
        c.exchange.fill_order(c.sender(CAROL), before, 1000 * E6)  # 1 WETH, before the cancel
        for o in (after, before):  # (``after``'s reads first: read again first, too)
            await soft_cancel(c, api, o, ALICE)

        def reads_failed() -> bool:  # (both cancels' first reads)
            return sum("fills read again" in r.getMessage() for r in caplog.records) >= 2

        await wait_for(reads_failed, timeout=30)
        c.rpc.call("evm_increaseTime", 60)  # (the next block a minute past the cancel)
        c.exchange.fill_order(c.sender(CAROL), after, 1001 * E6)  # 1 WETH, after it

        async def filled(o: SignedOrder) -> int:
            code, body = await api.get(f"/v1/orders/{o.hash_hex}")
            assert code == 200 and body["metaData"]["status"] == "cancelled", body
            return int(body["metaData"]["filledMakerAmount"])

        assert [await filled(before), await filled(after)] == [0, 0]  # (the mirror's word)
        dropping.on = False

        async def counted() -> bool:
            return await filled(before) == E18

        await wait_for(counted, timeout=30)  # (read again, after ``after``: the fill before)

        async def after_counted() -> bool:  # (the chain's: cancel62)
            return await filled(after) == E18

        await wait_for(after_counted, timeout=30)
