"""A fill of an order this node closed by its maker's soft cancel counts in its record, and
stays counted whatever makes the node look at the order again: here the maker's on-chain
cancel-up-to (the natural next step of a maker who sees the fill), the order still
``cancelled``. review23 kept such a fill out of the record, for the audit to report; since
cancel62 the record shows it (a soft cancel binds the nodes, not the chain: anyone holding
the signed order may fill it, and the wallet's trade is real). Real Hardhat, a real node on
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


async def test_a_fill_after_a_soft_cancel_stays_in_the_record_after_a_cancel_up_to(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(resting))[0] == 201
        await soft_cancel(c, api, resting, ALICE)
        c.exchange.fill_order(c.sender(BOB), resting, 750 * E6)  # the order lives on chain
        await synced(node, c)

        async def listed() -> bool:
            return bool((await api.get("/v1/fills"))[1]["total"] == 1)

        await wait_for(listed, timeout=20)
        filled = str(c.exchange.order_info(resting.order).filled)
        assert filled != "0"

        async def counted() -> bool:
            return bool((await meta(api, resting))["filledMakerAmount"] == filled)

        await wait_for(counted, timeout=20)

        c.exchange.cancel_orders_up_to(c.sender(ALICE), resting.order.salt + 1)
        await synced(node, c)
        await wait_for(lambda: node.watcher.applied is not None, timeout=5)
        m = await meta(api, resting)
        assert (m["status"], m["filledMakerAmount"]) == ("cancelled", filled), m
        report = await asyncio.to_thread(
            audit_network, c.deployment, [api.base], orders=[], sync_timeout=5.0
        )
        assert report.ok, report.to_json()
