"""review49: the time a settlement took to land (``StageTimes.landing``, attack48) is added to
the node's expiry clock. One settlement that waited out a stalled chain (or a slow receipt)
kept that clock up to a minute ahead until 16 more settlements landed: on a quiet node for
as long as it stayed quiet, every order with less than that left was refused, or closed as
expired for good, on a chain that settles at once again. A landing now counts for
``StageTimes.memory`` seconds (``LANDING_MEMORY``)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.sandwich import node_on
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

STALL = 6
"""Seconds the chain holds the first settlement before mining it."""
MEMORY = 2.0
"""The node's landing memory in this test (the product's is minutes)."""


async def test_a_stalled_settlement_stops_moving_the_clock_after_the_memory(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    operator = c.address(19)
    async with node_on(c, tmp_path) as (node, api):
        node.settler.stages.memory = MEMORY
        c.rpc.call("evm_setAutomine", False)
        try:
            first = c.sign(ask(c, ALICE, E18, 2000 * E6))
            assert (await api.post_order(first))[0] == 201
            assert (await api.post_order(c.sign(bid(c, BOB, E18, 2000 * E6))))[0] == 201

            def sent() -> bool:
                pending = c.rpc.call("eth_getTransactionCount", operator, "pending")
                return bool(pending != c.rpc.call("eth_getTransactionCount", operator, "latest"))

            await wait_for(sent, timeout=30)
            held = time.monotonic()
            # the stall itself: the chain mines nothing for STALL seconds
            await wait_for(lambda: time.monotonic() >= held + STALL, timeout=STALL + 5)
            c.rpc.call("evm_mine")
        finally:
            c.rpc.call("evm_setAutomine", True)

        async def filled() -> bool:
            return await api.status(first) == "filled"

        await wait_for(filled, timeout=30)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
        landed = time.monotonic()
        # quiet since: no settlement, the memory passes
        await wait_for(lambda: time.monotonic() >= landed + MEMORY + 0.5, timeout=MEMORY + 5)
        # an honest ask with 5 s left, on a chain that settles at once
        honest = c.sign(ask(c, ALICE, E18, 2000 * E6, expiry=node.chain_time() + 5))
        code, body = await api.post_order(honest)
        assert code == 201, body
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 2000 * E6)), "ioc")
        assert code == 201, body

        async def honest_filled() -> bool:
            return await api.status(honest) == "filled"

        await wait_for(honest_filled, timeout=30)
