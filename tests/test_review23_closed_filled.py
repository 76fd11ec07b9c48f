"""A fill of an order this node closed itself (a soft cancel) that no reorg undid stays out
of its record, whatever makes the node look at the order again: here the maker's on-chain
cancel-up-to (the natural next step of a maker who sees the fill). Before, that re-judging
gave the record the chain's filled amount, and the audit no longer reported the fill made
after the node told the wallet the order was dead (review23). Real Hardhat, a real node on
loopback, ``sdex audit`` against it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.audit import audit_network
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask


async def test_a_fill_after_a_soft_cancel_stays_out_of_the_record_after_a_cancel_up_to(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_order(resting))[0] == 201
        await soft_cancel(c, api, resting, ALICE)
        c.exchange.fill_order(c.sender(BOB), resting, 750 * E6)  # the order lives on chain
        await synced(node, c)

        async def listed() -> bool:
            return bool((await api.get("/v1/fills"))[1]["total"] == 1)

        await wait_for(listed, timeout=20)
        assert (await meta(api, resting))["filledMakerAmount"] == "0"

        c.exchange.cancel_orders_up_to(c.sender(ALICE), resting.order.salt + 1)
        await synced(node, c)
        await wait_for(lambda: node.watcher.applied is not None, timeout=5)
        m = await meta(api, resting)
        assert (m["status"], m["filledMakerAmount"]) == ("cancelled", "0"), m
        report = await asyncio.to_thread(
            audit_network, c.deployment, [api.base], orders=[], sync_timeout=5.0
        )
        assert report.kinds() == {"fill_after_node_closed"}, report.to_json()
